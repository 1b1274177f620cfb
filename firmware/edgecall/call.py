# call.py — calls on the device: signalling (edgecall.signaling) plus the media path.
#
# Publish: hal.audio microphone → MediaSender (codec, RTP, RED/FEC, NACK cache, RTCP SR: the C
# media stack through hal.codec) → hal.net UDP to the relay port the channel server gave us.
# Receive: hal.net UDP → MediaReceiver (jitter buffer, decoder, PLC; RTCP RR/NACK back) →
# hal.audio speaker, one 20 ms frame per frame period. The media task sleeps until the next thing
# is due (a microphone frame: hal.audio's next_ms where it has one; a speaker frame; a binding), at
# most RX_POLL_MS so that datagrams are taken before the socket's small queue fills; the speaker's
# frames are timed with the microphone's, so one wake-up per frame period serves both. RTCP from
# the peer goes to both halves (its SR to the receiver, its RR/NACK to the sender). The sender's
# and receiver's states (30 KiB with Opus) are made once when the service is created, while the
# heap is whole (reserve_media), and every call reuses their memory (hal.codec keeps it): on a
# board, a heap that many calls have fragmented may hold no such block in one piece. A call whose
# media cannot start ends with an error; the service goes on.
#
# Relay binding: the media socket's address is bound at the relay by an authenticated binding
# (Signaling.binding) sent when media starts, every BIND_RETRY_MS until the relay acknowledges
# it, then every BIND_REFRESH_MS (consent refresh: a NAT that moved our port is followed within
# that time). The relay drops anything else from an address that is not bound.
#
# Video (optional per call, setting "call/video" = b"on"): hal.video's sender takes a camera frame
# every 1/VIDEO_FPS s, JPEG-encodes and RTP/JPEG-packetizes it (RFC 2435, payload type 26) outside
# the MicroPython heap; the packets share the audio's UDP socket and relay port, and the receiver
# tells them apart by payload type and shows complete frames on the display.
#
# Settings (group 3, hal.storage): "call/server" = b"host:port" of the channel server,
# "call/answer" = b"auto" (default) or b"manual", "call/video" = b"on" or b"off" (default),
# "call/codecs" = the codecs offered, best first (default: Opus where hal.codec has it, G.722). The
# service starts at boot when the device is provisioned and call/server is set, or on the
# console's "join" request.
import asyncio
import time

import hal
from edgecall import log, provision
from edgecall.signaling import BIND_MAGIC, Signaling

FRAME_MS = 20
VIDEO_FPS = 10
VIDEO_PT = 26
RATES = {"opus": 16000, "g722": 16000, "pcmu": 8000, "pcma": 8000}
HISTORY = 20
PACKET_BYTES = 1024  # hal.codec's MAX_PACKET: every RTP and RTCP packet the media stack makes fits
BIND_RETRY_MS = 250
BIND_REFRESH_MS = 2500
IDLE_MS = 50  # the media task's period outside calls (it only beats)
RX_POLL_MS = 10  # longest sleep in a call: the socket queues only a few datagrams (modlwip: 4)
MIC_POLL_MS = 5  # the microphone's poll period when hal.audio cannot say when its next frame is due
_BIND0, _BIND1 = BIND_MAGIC[0], BIND_MAGIC[1]


def _setting(name, default=None):
    raw = hal.part("storage").get(name)
    return raw.decode() if raw else default


def codecs():
    """The codecs this device offers, best first: "call/codecs" (b"opus,g722,pcmu"), else Opus when
    hal.codec has it (hal.codec.OPUS), then G.722 and G.711 µ-law."""
    chosen = _setting("call/codecs")
    if chosen:
        return [c for c in chosen.split(",") if c in RATES]
    return (["opus"] if getattr(hal.part("codec"), "OPUS", False) else []) + ["g722", "pcmu"]


def _push(lst, value):
    lst.append(value)
    if len(lst) > HISTORY:
        lst.pop(0)


def _is_bind(pkt):
    return len(pkt) > 1 and pkt[0] == _BIND0 and pkt[1] == _BIND1


def _is_rtcp(pkt):
    return len(pkt) > 1 and 200 <= pkt[1] <= 206


def _is_video(pkt):
    return len(pkt) > 1 and pkt[1] & 0x7F == VIDEO_PT


class Video:
    """The call's video: camera → JPEG → RTP/JPEG out, RTP/JPEG in → display (hal.video)."""

    def __init__(self):
        v = hal.part("video")
        self.tx = v.VideoSender(width=160, height=120, quality=50, pt=VIDEO_PT)
        try:
            self.rx = v.VideoReceiver()
        except (OSError, ValueError):
            self.tx.close()
            raise
        self.next_ms = time.ticks_ms()
        self.pkt = bytearray(1200)  # the sender's MTU: packets leave without allocating
        self.view = memoryview(self.pkt)

    def due(self, now):
        """Captures a frame when one is due; True if it did."""
        if time.ticks_diff(now, self.next_ms) < 0:
            return False
        self.tx.capture(now * 90 & 0xFFFFFFFF)  # RTP video clock: 90 kHz
        self.next_ms = time.ticks_add(self.next_ms, 1000 // VIDEO_FPS)
        if time.ticks_diff(now, self.next_ms) > 1000 // VIDEO_FPS:
            self.next_ms = now  # stalled: skip frames rather than send a burst
        return True

    def stats(self):
        return {"tx": self.tx.stats(), "rx": self.rx.stats()}

    def close(self):
        self.tx.close()
        self.rx.close()


def _sender(c, codec):
    return c.MediaSender(codec=codec, ptime_ms=FRAME_MS, nack=True, adapt=True, max_ptime_ms=40)


def _receiver(c, codec):
    return c.MediaReceiver(codec=codec, ptime_ms=FRAME_MS, nack=True, buffer_ms=400)


def reserve_media():
    """Makes and closes the sender and receiver of the largest codec offered, while the heap is
    still whole: hal's codec keeps their memory for every later call (on a board the states live
    on the MicroPython heap, and after many calls it may hold no 30 KiB in one piece)."""
    c = hal.part("codec")
    offered = codecs()
    codec = "opus" if "opus" in offered else offered[0] if offered else "g722"
    _sender(c, codec).close()
    _receiver(c, codec).close()


class Media:
    """One call's media: audio stream, UDP socket, sender and receiver."""

    def __init__(self, codec, host, relay_port, sig):
        c = hal.part("codec")
        self.sig = sig  # the relay binding's source (Signaling.binding / is_ack)
        self.rate = RATES.get(codec, 8000)
        self.codec = codec
        self.host, self.port = host, relay_port
        self.video = None
        self._parts = []  # type: list
        try:  # what opened is closed again if a later part fails
            self.audio = self._open(hal.part("audio").Audio(rate=self.rate, frame_ms=FRAME_MS))
            self.udp = self._open(hal.part("net").Udp())
            self.tx = self._open(_sender(c, codec))
            self.rx = self._open(_receiver(c, codec))
        except (OSError, ValueError, MemoryError):
            self.close()
            raise
        # When the next microphone frame is due (hal.emu's Audio.next_ms), else None: polled.
        self.mic_next = getattr(self.audio, "next_ms", None)
        self.mic = bytearray(self.audio.frame_bytes)
        self.out = bytearray(self.audio.frame_bytes)
        self.sbuf = bytearray(PACKET_BYTES)  # packets out (RTP, RTCP feedback), without allocating
        self.sview = memoryview(self.sbuf)
        self.t0 = time.ticks_ms()
        self.next_play = None
        self.first_audio_ms = None
        if _setting("call/video", "off") == "on":
            try:
                self.video = self._open(Video())
            except (OSError, ValueError, ImportError) as e:
                log.warn("video off: %r" % (e,))
        self.binds = self.bind_acks = 0
        self.bound = False
        self.next_bind = time.ticks_ms()
        self._bind(self.next_bind)

    def _open(self, part):
        self._parts.append(part)
        return part

    def _bind(self, now):
        """Sends a binding when one is due: until acknowledged often, then as consent refresh."""
        if time.ticks_diff(now, self.next_bind) < 0:
            return
        pkt = self.sig.binding()
        if pkt is not None:
            self._send(pkt)
            self.binds += 1
        self.bound = False
        self.next_bind = time.ticks_add(now, BIND_REFRESH_MS if self.bind_acks else BIND_RETRY_MS)

    def _send(self, pkt):
        try:
            self.udp.sendto(pkt, self.host, self.port)
        except OSError as e:
            log.warn("media send: %r" % (e,))

    def _play_from(self, now):
        """Where the speaker's frames start: with the microphone's, so that one wake-up per frame
        period serves both (now when hal.audio cannot say when its next frame is due)."""
        return self.mic_next() if self.mic_next is not None else now

    def step(self):
        """Moves everything that is due; returns the ms until something is due again (at most
        RX_POLL_MS: received datagrams are taken at least that often). Runs a few times a frame:
        what it uses more than once is read into locals (each attribute or global read is a
        dictionary lookup in MicroPython)."""
        ticks_diff = time.ticks_diff
        now = time.ticks_ms()
        if ticks_diff(now, self.next_bind) >= 0:
            self._bind(now)
        audio, mic, tx = self.audio, self.mic, self.tx
        while audio.readinto(mic):
            tx.push(mic, now)
        sbuf, sview, send = self.sbuf, self.sview, self._send
        n = tx.poll_into(sbuf, now)
        while n:
            send(sview[:n])
            n = tx.poll_into(sbuf, now)
        video = self.video
        if video is not None and video.due(now):
            n = video.tx.poll_into(video.pkt)
            while n > 0:
                send(video.view[:n])
                n = video.tx.poll_into(video.pkt)
        rx, recv = self.rx, self.udp.recv
        for _ in range(32):
            data = recv()
            if data is None:
                break
            b1 = data[1] if len(data) > 1 else -1  # _is_bind, _is_rtcp, _is_video, inline
            if b1 == _BIND1 and data[0] == _BIND0:
                if self.sig.is_ack(data):
                    self.bind_acks += 1
                    self.bound = True
            elif 200 <= b1 <= 206:
                tx.on_packet(data, now)
                rx.on_packet(data, now)
            elif b1 & 0x7F == VIDEO_PT:
                if video is not None:
                    video.rx.on_packet(data)
            elif rx.on_packet(data, now) == "media" and self.first_audio_ms is None:
                self.first_audio_ms = ticks_diff(now, self.t0)
                self.next_play = self._play_from(now)
        next_play = self.next_play
        if next_play is not None and ticks_diff(now, next_play) >= 0:
            out = self.out
            rx.pull_into(out, now)
            audio.write_frame(out)
            next_play = time.ticks_add(next_play, FRAME_MS)
            if ticks_diff(now, next_play) > 10 * FRAME_MS:  # we were stalled: catch up
                next_play = self._play_from(now)
            self.next_play = next_play
        n = rx.poll_feedback_into(sbuf, now)
        while n:
            send(sview[:n])
            n = rx.poll_feedback_into(sbuf, now)
        return self._wait()

    def _wait(self):
        """The ms until the next thing is due: a microphone frame, a speaker frame, a binding, a
        video frame; RX_POLL_MS at most."""
        ticks_diff = time.ticks_diff
        now = time.ticks_ms()
        wait = RX_POLL_MS
        mic_next = self.mic_next
        d = ticks_diff(mic_next(), now) if mic_next is not None else MIC_POLL_MS
        if d < wait:
            wait = d
        next_play = self.next_play
        if next_play is not None:
            d = ticks_diff(next_play, now)
            if d < wait:
                wait = d
        d = ticks_diff(self.next_bind, now)
        if d < wait:
            wait = d
        video = self.video
        if video is not None:
            d = ticks_diff(video.next_ms, now)
            if d < wait:
                wait = d
        return wait if wait > 0 else 0

    def stats(self):
        now = time.ticks_ms()
        tx, rx = self.tx.stats(), self.rx.stats(now)
        return {
            "codec": self.codec, "ms": time.ticks_diff(now, self.t0), "first_audio_ms": self.first_audio_ms,
            "tx": {k: tx[k] for k in ("packets", "octets", "retransmissions", "rtt_ms", "level", "fraction_lost",
                                       "ptime_ms", "red", "fec_group", "g722_bitrate")},
            "rx": {k: rx[k] for k in ("received", "expected", "lost", "late", "duplicates", "recovered_red",
                                       "recovered_fec", "nack_recovered", "played", "concealed", "jitter",
                                       "target_delay_ms", "delay_ms", "buffered_ms", "malformed")},
            "mic_overruns": self.audio.overruns if hasattr(self.audio, "overruns") else 0,
            "speaker_underruns": self.audio.underruns if hasattr(self.audio, "underruns") else 0,
            "relay": {"binds": self.binds, "acks": self.bind_acks, "bound": self.bound},
            "video": self.video.stats() if self.video is not None else None,
        }

    def close(self):
        parts, self._parts = self._parts, []
        for part in parts:
            try:
                part.close()
            except (OSError, ValueError) as e:
                log.warn("media close: %r" % (e,))


class CallService:
    """Signalling and media for the provisioned identity; what the console's call commands drive."""

    def __init__(self, app):
        self.app = app
        self.sig = None
        self.media = None
        self.task = None
        self.first_audio_ms = []  # type: list[int]
        self.calls = []  # type: list[dict]
        self.errors = 0
        self._n = 0
        self._call_t0 = 0
        try:
            reserve_media()
        except (OSError, ValueError, MemoryError) as e:
            log.warn("media memory not reserved: %r" % (e,))

    def configured(self):
        return provision.token() is not None and _setting("call/server") is not None

    def start(self):
        """(Re)starts signalling with the current provisioning record and settings."""
        st = provision.state()
        server = _setting("call/server")
        if st["state"] != "provisioned" or not server:
            raise ValueError("not provisioned, or call/server not set")
        host, port = server.rsplit(":", 1)
        self.stop()
        self.sig = Signaling(hal.part("net"), host, int(port), st["channel"], st["uid"], provision.token,
                             codecs=codecs(), on_event=self._event)
        self.task = asyncio.create_task(self._run())
        log.info("call service: %s as %s via %s" % (st["channel"], st["uid"], server))

    def stop(self):
        self._end_media("stopped")
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.sig is not None:
            self.sig.close()
            self.sig = None
        self.app.unbeat("media")
        self.app.unbeat("signaling")

    async def _run(self):
        sig = self.sig
        assert sig is not None
        asyncio.create_task(sig.run(beat=lambda: self.app.beat("signaling")))
        try:
            while True:
                self.app.beat("media")
                wait = IDLE_MS
                if self.media is not None:
                    try:
                        wait = self.media.step()
                    except (OSError, ValueError) as e:
                        self.errors += 1
                        log.error("media: %r" % (e,))
                        self._end_media("media error")
                await asyncio.sleep_ms(wait)
        finally:
            sig.stop()

    # ---- events from signalling ----
    def _event(self, kind, info):
        sig = self.sig
        if sig is None:
            return
        if kind == "ring" and _setting("call/answer", "auto") == "auto":
            sig.accept()
        elif kind == "in-call":
            self._start_media(sig, info.get("codec") or "pcmu")
        elif kind in ("ended", "lost"):
            self._end_media(info.get("reason") or kind)

    def _start_media(self, sig, codec):
        self._end_media("restart")
        try:
            self.media = Media(codec, sig.host, sig.relay_port, sig)
        except (OSError, ValueError, MemoryError) as e:
            self.errors += 1
            log.error("media start: %r" % (e,))
            self.media = None

    def _end_media(self, reason):
        m = self.media
        if m is None:
            return
        self.media = None
        st = m.stats()
        m.close()
        if st["first_audio_ms"] is not None:
            _push(self.first_audio_ms, st["first_audio_ms"])
        st["call"] = self.sig.call_id if self.sig is not None else None
        st["reason"] = reason
        self.calls.append(st)
        if len(self.calls) > 4:
            self.calls.pop(0)

    # ---- console requests ----
    def invite(self, to):
        if self.sig is None:
            raise ValueError("call service not started")
        self._n += 1
        call_id = "%s-%d-%d" % (self.sig.uid, time.ticks_diff(time.ticks_ms(), self.app.started_ms), self._n)
        if not self.sig.invite(to, call_id):
            raise ValueError("cannot call now (%s, %s)" % (self.sig.state, self.sig.call_state))
        return call_id

    def accept(self):
        if self.sig is None or self.sig.call_state != "ringing":
            raise ValueError("no incoming call")
        self.sig.accept()

    def hangup(self):
        if self.sig is None or self.sig.call_id is None:
            raise ValueError("no call")
        self.sig.hangup()

    def status(self):
        sig = self.sig
        out = {"service": "stopped" if sig is None else "running", "errors": self.errors,
               "first_audio_ms": self.first_audio_ms, "calls": self.calls}
        if sig is not None:
            out.update(sig.status())
        if self.media is not None:
            out["media"] = self.media.stats()
        return out


service = None


def get(app):
    global service
    if service is None:
        service = CallService(app)
    return service
