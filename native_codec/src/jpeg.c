/* jpeg.c — baseline JPEG encoder: ITU-T T.81 (09/92) sequential DCT-based mode, Huffman coding,
 * 8-bit samples, written as a JFIF 1.01 stream.
 *
 * - colour conversion: JFIF 1.02 §7 (BT.601 full range), 16-bit fixed point; chroma of RGB input
 *   is converted from the sums of the 2x2 (4:2:0) or 2x1 (4:2:2) pixels it covers;
 * - forward DCT (T.81 A.3.3): the Arai-Agui-Nakajima flow graph in 32-bit integers (Q13
 *   constants, 2 fraction bits between the passes); its per-coefficient output scale is folded
 *   into the quantiser reciprocals;
 * - quantisation (A.3.4): T.81 Annex K.1 tables scaled by the IJG quality formula, rounding to
 *   nearest by a 16-bit reciprocal and a per-coefficient shift;
 * - entropy coding: DC differences and AC run/size symbols (F.1.2.1, F.1.2.2) with the Annex K.3
 *   tables (BITS/HUFFVAL of K.3.3.1 and K.3.3.2; the code words derived as in Annex C); byte
 *   stuffing (F.1.2.3), restart markers and padding with 1-bits (B.2.4.4, F.1.2.3);
 * - markers: SOI, APP0 (JFIF), DQT, SOF0, DHT, DRI, SOS, EOI (B.2, B.3).
 * The encoder is a resumable state machine: it stops when the caller's buffer is full (one coded
 * symbol at most is kept in the state) and at the end of each MCU row, so input and output stream
 * through small buffers. No malloc, no globals except const tables, no floating point. */
#include "ec_jpeg.h"

#define JPEG_MAGIC 0x4a504547u /* "JPEG" */

enum { PH_HEADER, PH_SCAN, PH_TRAILER, PH_DONE };

/* Natural (row-major) index of the k-th coefficient in zig-zag order (T.81 Figure A.6). */
static const uint8_t zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/* T.81 Table K.1 (luminance) and K.2 (chrominance), natural order. */
static const uint8_t base_lum[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
    14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
    18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
};
static const uint8_t base_chr[64] = {
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
};

/* AAN output scale factors s(0) = 1, s(k) = sqrt(2) cos(k pi / 16), Q15. */
static const uint16_t aan_q15[8] = {32768, 45451, 42813, 38531, 32768, 25746, 17734, 9041};

/* Annex K.3 Huffman tables as DHT carries them (16 BITS counts, then HUFFVAL), and the code word
 * and its length per symbol (DC: category; AC: run << 4 | size), derived by the procedure of
 * C.2 (Figures C.1 to C.3). */
static const uint8_t dht_dc_lum[28] = {
    0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
};
static const uint16_t code_dc_lum[12] = {
    0x0000, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x000e, 0x001e,
    0x003e, 0x007e, 0x00fe, 0x01fe,
};
static const uint8_t len_dc_lum[12] = {
    2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9,
};
static const uint8_t dht_ac_lum[178] = {
    0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125,
    1, 2, 3, 0, 4, 17, 5, 18, 33, 49, 65, 6, 19, 81, 97, 7,
    34, 113, 20, 50, 129, 145, 161, 8, 35, 66, 177, 193, 21, 82, 209, 240,
    36, 51, 98, 114, 130, 9, 10, 22, 23, 24, 25, 26, 37, 38, 39, 40,
    41, 42, 52, 53, 54, 55, 56, 57, 58, 67, 68, 69, 70, 71, 72, 73,
    74, 83, 84, 85, 86, 87, 88, 89, 90, 99, 100, 101, 102, 103, 104, 105,
    106, 115, 116, 117, 118, 119, 120, 121, 122, 131, 132, 133, 134, 135, 136, 137,
    138, 146, 147, 148, 149, 150, 151, 152, 153, 154, 162, 163, 164, 165, 166, 167,
    168, 169, 170, 178, 179, 180, 181, 182, 183, 184, 185, 186, 194, 195, 196, 197,
    198, 199, 200, 201, 202, 210, 211, 212, 213, 214, 215, 216, 217, 218, 225, 226,
    227, 228, 229, 230, 231, 232, 233, 234, 241, 242, 243, 244, 245, 246, 247, 248,
    249, 250,
};
static const uint16_t code_ac_lum[256] = {
    0x000a, 0x0000, 0x0001, 0x0004, 0x000b, 0x001a, 0x0078, 0x00f8,
    0x03f6, 0xff82, 0xff83, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x000c, 0x001b, 0x0079, 0x01f6, 0x07f6, 0xff84, 0xff85,
    0xff86, 0xff87, 0xff88, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x001c, 0x00f9, 0x03f7, 0x0ff4, 0xff89, 0xff8a, 0xff8b,
    0xff8c, 0xff8d, 0xff8e, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x003a, 0x01f7, 0x0ff5, 0xff8f, 0xff90, 0xff91, 0xff92,
    0xff93, 0xff94, 0xff95, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x003b, 0x03f8, 0xff96, 0xff97, 0xff98, 0xff99, 0xff9a,
    0xff9b, 0xff9c, 0xff9d, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x007a, 0x07f7, 0xff9e, 0xff9f, 0xffa0, 0xffa1, 0xffa2,
    0xffa3, 0xffa4, 0xffa5, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x007b, 0x0ff6, 0xffa6, 0xffa7, 0xffa8, 0xffa9, 0xffaa,
    0xffab, 0xffac, 0xffad, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x00fa, 0x0ff7, 0xffae, 0xffaf, 0xffb0, 0xffb1, 0xffb2,
    0xffb3, 0xffb4, 0xffb5, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01f8, 0x7fc0, 0xffb6, 0xffb7, 0xffb8, 0xffb9, 0xffba,
    0xffbb, 0xffbc, 0xffbd, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01f9, 0xffbe, 0xffbf, 0xffc0, 0xffc1, 0xffc2, 0xffc3,
    0xffc4, 0xffc5, 0xffc6, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01fa, 0xffc7, 0xffc8, 0xffc9, 0xffca, 0xffcb, 0xffcc,
    0xffcd, 0xffce, 0xffcf, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x03f9, 0xffd0, 0xffd1, 0xffd2, 0xffd3, 0xffd4, 0xffd5,
    0xffd6, 0xffd7, 0xffd8, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x03fa, 0xffd9, 0xffda, 0xffdb, 0xffdc, 0xffdd, 0xffde,
    0xffdf, 0xffe0, 0xffe1, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x07f8, 0xffe2, 0xffe3, 0xffe4, 0xffe5, 0xffe6, 0xffe7,
    0xffe8, 0xffe9, 0xffea, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0xffeb, 0xffec, 0xffed, 0xffee, 0xffef, 0xfff0, 0xfff1,
    0xfff2, 0xfff3, 0xfff4, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x07f9, 0xfff5, 0xfff6, 0xfff7, 0xfff8, 0xfff9, 0xfffa, 0xfffb,
    0xfffc, 0xfffd, 0xfffe, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
};
static const uint8_t len_ac_lum[256] = {
    4, 2, 2, 3, 4, 5, 7, 8, 10, 16, 16, 0, 0, 0, 0, 0,
    0, 4, 5, 7, 9, 11, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 5, 8, 10, 12, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 6, 9, 12, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 6, 10, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 7, 11, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 7, 12, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 8, 12, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 15, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 10, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 10, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 11, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    11, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
};
static const uint8_t dht_dc_chr[28] = {
    0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
};
static const uint16_t code_dc_chr[12] = {
    0x0000, 0x0001, 0x0002, 0x0006, 0x000e, 0x001e, 0x003e, 0x007e,
    0x00fe, 0x01fe, 0x03fe, 0x07fe,
};
static const uint8_t len_dc_chr[12] = {
    2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
};
static const uint8_t dht_ac_chr[178] = {
    0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119,
    0, 1, 2, 3, 17, 4, 5, 33, 49, 6, 18, 65, 81, 7, 97, 113,
    19, 34, 50, 129, 8, 20, 66, 145, 161, 177, 193, 9, 35, 51, 82, 240,
    21, 98, 114, 209, 10, 22, 36, 52, 225, 37, 241, 23, 24, 25, 26, 38,
    39, 40, 41, 42, 53, 54, 55, 56, 57, 58, 67, 68, 69, 70, 71, 72,
    73, 74, 83, 84, 85, 86, 87, 88, 89, 90, 99, 100, 101, 102, 103, 104,
    105, 106, 115, 116, 117, 118, 119, 120, 121, 122, 130, 131, 132, 133, 134, 135,
    136, 137, 138, 146, 147, 148, 149, 150, 151, 152, 153, 154, 162, 163, 164, 165,
    166, 167, 168, 169, 170, 178, 179, 180, 181, 182, 183, 184, 185, 186, 194, 195,
    196, 197, 198, 199, 200, 201, 202, 210, 211, 212, 213, 214, 215, 216, 217, 218,
    226, 227, 228, 229, 230, 231, 232, 233, 234, 242, 243, 244, 245, 246, 247, 248,
    249, 250,
};
static const uint16_t code_ac_chr[256] = {
    0x0000, 0x0001, 0x0004, 0x000a, 0x0018, 0x0019, 0x0038, 0x0078,
    0x01f4, 0x03f6, 0x0ff4, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x000b, 0x0039, 0x00f6, 0x01f5, 0x07f6, 0x0ff5, 0xff88,
    0xff89, 0xff8a, 0xff8b, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x001a, 0x00f7, 0x03f7, 0x0ff6, 0x7fc2, 0xff8c, 0xff8d,
    0xff8e, 0xff8f, 0xff90, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x001b, 0x00f8, 0x03f8, 0x0ff7, 0xff91, 0xff92, 0xff93,
    0xff94, 0xff95, 0xff96, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x003a, 0x01f6, 0xff97, 0xff98, 0xff99, 0xff9a, 0xff9b,
    0xff9c, 0xff9d, 0xff9e, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x003b, 0x03f9, 0xff9f, 0xffa0, 0xffa1, 0xffa2, 0xffa3,
    0xffa4, 0xffa5, 0xffa6, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0079, 0x07f7, 0xffa7, 0xffa8, 0xffa9, 0xffaa, 0xffab,
    0xffac, 0xffad, 0xffae, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x007a, 0x07f8, 0xffaf, 0xffb0, 0xffb1, 0xffb2, 0xffb3,
    0xffb4, 0xffb5, 0xffb6, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x00f9, 0xffb7, 0xffb8, 0xffb9, 0xffba, 0xffbb, 0xffbc,
    0xffbd, 0xffbe, 0xffbf, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01f7, 0xffc0, 0xffc1, 0xffc2, 0xffc3, 0xffc4, 0xffc5,
    0xffc6, 0xffc7, 0xffc8, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01f8, 0xffc9, 0xffca, 0xffcb, 0xffcc, 0xffcd, 0xffce,
    0xffcf, 0xffd0, 0xffd1, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01f9, 0xffd2, 0xffd3, 0xffd4, 0xffd5, 0xffd6, 0xffd7,
    0xffd8, 0xffd9, 0xffda, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x01fa, 0xffdb, 0xffdc, 0xffdd, 0xffde, 0xffdf, 0xffe0,
    0xffe1, 0xffe2, 0xffe3, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x07f9, 0xffe4, 0xffe5, 0xffe6, 0xffe7, 0xffe8, 0xffe9,
    0xffea, 0xffeb, 0xffec, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x3fe0, 0xffed, 0xffee, 0xffef, 0xfff0, 0xfff1, 0xfff2,
    0xfff3, 0xfff4, 0xfff5, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x03fa, 0x7fc3, 0xfff6, 0xfff7, 0xfff8, 0xfff9, 0xfffa, 0xfffb,
    0xfffc, 0xfffd, 0xfffe, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
};
static const uint8_t len_ac_chr[256] = {
    2, 2, 3, 4, 5, 5, 6, 7, 9, 10, 12, 0, 0, 0, 0, 0,
    0, 4, 6, 8, 9, 11, 12, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 5, 8, 10, 12, 15, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 5, 8, 10, 12, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 6, 9, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 6, 10, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 7, 11, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 7, 11, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 8, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 11, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    0, 14, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
    10, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0,
};
static const uint8_t nbits8[256] = {
    0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
};

/* ---- tables and header ---- */

int ec_jpeg_quant_tables(int quality, uint8_t tables[128])
{
    int i, scale;
    if (tables == NULL || quality < 1 || quality > 100) {
        return EC_ERR_ARG;
    }
    scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    for (i = 0; i < 64; i++) {
        int l = (base_lum[zigzag[i]] * scale + 50) / 100;
        int c = (base_chr[zigzag[i]] * scale + 50) / 100;
        tables[i] = (uint8_t)(l < 1 ? 1 : l > 255 ? 255 : l);
        tables[64 + i] = (uint8_t)(c < 1 ? 1 : c > 255 ? 255 : c);
    }
    return EC_OK;
}

/* A window onto a generated byte sequence: bytes skip .. skip+cap-1 land in out. */
typedef struct {
    uint8_t *out;
    size_t cap;
    uint32_t skip;
    uint32_t n; /* bytes generated so far */
} window;

static void wb(window *w, uint8_t b)
{
    if (w->n >= w->skip && w->n - w->skip < w->cap) {
        w->out[w->n - w->skip] = b;
    }
    w->n++;
}

static void w16(window *w, uint32_t v)
{
    wb(w, (uint8_t)(v >> 8));
    wb(w, (uint8_t)v);
}

static void wbytes(window *w, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        wb(w, p[i]);
    }
}

static void dht(window *w, uint8_t tc_th, const uint8_t *table, size_t len)
{
    w16(w, 0xffc4u);
    w16(w, (uint32_t)(2 + 1 + len));
    wb(w, tc_th);
    wbytes(w, table, len);
}

static const uint8_t jfif_app0[18] = {0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00,
                                      0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00};

/* Generates SOI .. SOS (B.2.1 high-level syntax; the table order of libjpeg). */
static uint32_t gen_header(window *w, uint16_t width, uint16_t height, int subsampling, const uint8_t *tables,
                           uint16_t restart_interval)
{
    int t;
    w16(w, 0xffd8u); /* SOI */
    wbytes(w, jfif_app0, sizeof jfif_app0);
    for (t = 0; t < 2; t++) { /* DQT, 8-bit precision, table t */
        w16(w, 0xffdbu);
        w16(w, 67);
        wb(w, (uint8_t)t);
        wbytes(w, tables + 64 * t, 64);
    }
    w16(w, 0xffc0u); /* SOF0 */
    w16(w, 17);
    wb(w, 8);
    w16(w, height);
    w16(w, width);
    wb(w, 3);
    wb(w, 1);
    wb(w, subsampling == EC_JPEG_420 ? 0x22 : 0x21);
    wb(w, 0);
    wb(w, 2);
    wb(w, 0x11);
    wb(w, 1);
    wb(w, 3);
    wb(w, 0x11);
    wb(w, 1);
    dht(w, 0x00, dht_dc_lum, sizeof dht_dc_lum);
    dht(w, 0x10, dht_ac_lum, sizeof dht_ac_lum);
    dht(w, 0x01, dht_dc_chr, sizeof dht_dc_chr);
    dht(w, 0x11, dht_ac_chr, sizeof dht_ac_chr);
    if (restart_interval != 0) {
        w16(w, 0xffddu); /* DRI */
        w16(w, 4);
        w16(w, restart_interval);
    }
    w16(w, 0xffdau); /* SOS: 3 components, Y tables 0/0, Cb and Cr tables 1/1, Ss 0, Se 63, Ah Al 0 */
    w16(w, 12);
    wb(w, 3);
    wb(w, 1);
    wb(w, 0x00);
    wb(w, 2);
    wb(w, 0x11);
    wb(w, 3);
    wb(w, 0x11);
    wb(w, 0);
    wb(w, 63);
    wb(w, 0);
    return w->n;
}

int ec_jpeg_header(uint16_t width, uint16_t height, int subsampling, const uint8_t tables[128],
                   uint16_t restart_interval, uint8_t *out, size_t cap)
{
    window w;
    uint32_t n;
    int i;
    if (tables == NULL || out == NULL || width == 0 || height == 0 ||
        (subsampling != EC_JPEG_420 && subsampling != EC_JPEG_422)) {
        return EC_ERR_ARG;
    }
    for (i = 0; i < 128; i++) {
        if (tables[i] == 0) {
            return EC_ERR_ARG;
        }
    }
    w.out = out;
    w.cap = cap;
    w.skip = 0;
    w.n = 0;
    n = gen_header(&w, width, height, subsampling, tables, restart_interval);
    return n > cap ? EC_ERR_SHORT_BUFFER : (int)n;
}

const uint8_t *ec_jpeg_std_dht(int tc_th, size_t *len)
{
    const uint8_t *t;
    size_t n;
    switch (tc_th) {
    case 0x00:
        t = dht_dc_lum;
        n = sizeof dht_dc_lum;
        break;
    case 0x10:
        t = dht_ac_lum;
        n = sizeof dht_ac_lum;
        break;
    case 0x01:
        t = dht_dc_chr;
        n = sizeof dht_dc_chr;
        break;
    case 0x11:
        t = dht_ac_chr;
        n = sizeof dht_ac_chr;
        break;
    default:
        return NULL;
    }
    if (len != NULL) {
        *len = n;
    }
    return t;
}

/* ---- state ---- */

size_t ec_jpeg_enc_state_size(void)
{
    return sizeof(ec_jpeg_enc);
}

/* Reciprocal of the quantiser step of zig-zag index k (natural index n = v * 8 + u) folded with
 * the AAN scale and the DCT's 2^5 gain: d = 32 * s(u) * s(v) * q, in Q15;
 * recip = round(2^(shift + 15) / d) in [2^15, 2^16). */
static void make_recip(ec_jpeg_enc *st, int t)
{
    int k;
    for (k = 0; k < 64; k++) {
        int n = zigzag[k];
        uint32_t s2 = ((uint32_t)aan_q15[n >> 3] * aan_q15[n & 7] + (1u << 14)) >> 15;
        uint32_t d = s2 * 32u * st->qtab[64 * t + k];
        uint64_t r;
        unsigned sh = 16;
        for (;;) {
            r = (((uint64_t)1 << (sh + 15)) + d / 2u) / d;
            if (r >= 32768u) {
                break;
            }
            sh++;
        }
        st->recip[t][k] = (uint16_t)(r > 65535u ? 65535u : r);
        st->shift[t][k] = (uint8_t)sh;
    }
}

int ec_jpeg_enc_new_frame(ec_jpeg_enc *st)
{
    if (st == NULL || st->magic != JPEG_MAGIC) {
        return EC_ERR_STATE;
    }
    st->phase = st->header_len ? PH_HEADER : PH_SCAN;
    st->header_pos = 0;
    st->row = 0;
    st->mcu_x = 0;
    st->blk = 0;
    st->k = 0;
    st->last = 0;
    st->run = 0;
    st->loaded = 0;
    st->block_ready = 0;
    st->rst_next = 0;
    st->rst_left = st->p.restart_interval;
    st->nbits = 0;
    st->acc = 0;
    st->npend = 0;
    st->pend_off = 0;
    st->dc_pred[0] = st->dc_pred[1] = st->dc_pred[2] = 0;
    return EC_OK;
}

int ec_jpeg_enc_init(ec_jpeg_enc *st, size_t st_size, const ec_jpeg_params *params)
{
    ec_jpeg_params p;
    int i;
    if (st == NULL || params == NULL) {
        return EC_ERR_ARG;
    }
    if (st_size < sizeof(ec_jpeg_enc)) {
        return EC_ERR_SHORT_BUFFER;
    }
    p = *params;
    if (p.width == 0 || p.height == 0 || p.format > EC_JPEG_I422 ||
        (p.subsampling != EC_JPEG_420 && p.subsampling != EC_JPEG_422) || p.quality < 1 || p.quality > 100 ||
        (p.flags & ~EC_JPEG_SCAN_ONLY) != 0) {
        return EC_ERR_ARG;
    }
    if (p.format == EC_JPEG_I420 && p.subsampling != EC_JPEG_420) {
        return EC_ERR_UNSUPPORTED;
    }
    for (i = 0; i < (int)sizeof(ec_jpeg_enc); i++) {
        ((uint8_t *)st)[i] = 0;
    }
    st->p = p;
    st->mcu_h = p.subsampling == EC_JPEG_420 ? 16 : 8;
    st->nblocks = p.subsampling == EC_JPEG_420 ? 6 : 4;
    st->mcus_x = (uint16_t)((p.width + 15u) / 16u);
    st->mcu_rows = (uint16_t)((p.height + st->mcu_h - 1u) / st->mcu_h);
    ec_jpeg_quant_tables(p.quality, st->qtab);
    make_recip(st, 0);
    make_recip(st, 1);
    if (p.flags & EC_JPEG_SCAN_ONLY) {
        st->header_len = 0;
    } else {
        window w;
        w.out = NULL;
        w.cap = 0;
        w.skip = 0;
        w.n = 0;
        st->header_len = (uint16_t)gen_header(&w, p.width, p.height, p.subsampling, st->qtab,
                                              p.restart_interval);
    }
    st->magic = JPEG_MAGIC;
    return ec_jpeg_enc_new_frame(st);
}

int ec_jpeg_enc_row(const ec_jpeg_enc *st)
{
    if (st == NULL || st->magic != JPEG_MAGIC) {
        return EC_ERR_STATE;
    }
    return st->row;
}

int ec_jpeg_enc_mcu_height(const ec_jpeg_enc *st)
{
    if (st == NULL || st->magic != JPEG_MAGIC) {
        return EC_ERR_STATE;
    }
    return st->mcu_h;
}

int ec_jpeg_enc_done(const ec_jpeg_enc *st)
{
    if (st == NULL || st->magic != JPEG_MAGIC) {
        return EC_ERR_STATE;
    }
    return st->phase == PH_DONE && st->npend == 0;
}

/* ---- MCU input: colour conversion and subsampling ---- */

#define FIX_Y_R 19595 /* 0.299 * 2^16 */
#define FIX_Y_G 38470 /* 0.587 */
#define FIX_Y_B 7471  /* 0.114 */
#define FIX_CB_R 11059 /* 0.168736 */
#define FIX_CB_G 21709 /* 0.331264 */
#define FIX_CR_G 27439 /* 0.418688 */
#define FIX_CR_B 5329  /* 0.081312 */
#define FIX_HALF 32768 /* 0.5 */

static uint8_t clamp255(int32_t v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* R, G, B of pixel x of a line; fmt is a constant where this is inlined. */
static ALWAYS_INLINE void fetch_rgb(const uint8_t *line, int x, int fmt, int32_t *r, int32_t *g, int32_t *b)
{
    if (fmt == EC_JPEG_RGB888) {
        const uint8_t *px = line + 3 * x;
        *r = px[0];
        *g = px[1];
        *b = px[2];
    } else {
        const uint8_t *px = line + 2 * x;
        uint32_t v = fmt == EC_JPEG_RGB565LE ? (uint32_t)px[0] | (uint32_t)px[1] << 8
                                             : (uint32_t)px[1] | (uint32_t)px[0] << 8;
        *r = (int32_t)((v >> 8 & 0xf8u) | v >> 13);
        *g = (int32_t)((v >> 3 & 0xfcu) | (v >> 9 & 3u));
        *b = (int32_t)((v << 3 & 0xf8u) | (v >> 2 & 7u));
    }
}

static ALWAYS_INLINE uint8_t luma_of(int32_t r, int32_t g, int32_t b)
{
    return (uint8_t)((FIX_Y_R * r + FIX_Y_G * g + FIX_Y_B * b + FIX_HALF) >> 16);
}

/* One MCU of RGB input: per chroma sample, the 2x2 (4:2:0) or 2x1 (4:2:2) pixels it covers give
 * their luma, and the sums of their R, G, B give Cb and Cr (JFIF conversion is linear). */
static ALWAYS_INLINE void rgb_mcu(ec_jpeg_enc *st, const ec_jpeg_rows *rows, const int *xs, int lines, int fmt)
{
    const int v420 = st->p.subsampling == EC_JPEG_420;
    const int sh = v420 ? 2 : 1;
    const int32_t bias = (128 << (16 + sh)) + (1 << (15 + sh)) - 1;
    const size_t stride = rows->stride[0];
    uint8_t *cb = st->mcu[st->nblocks - 2], *cr = st->mcu[st->nblocks - 1];
    int cx, cy;
    for (cy = 0; cy < 8; cy++) {
        const int y0 = v420 ? 2 * cy : cy, y1 = y0 + 1;
        const uint8_t *la = rows->plane[0] + (size_t)(y0 < lines ? y0 : lines - 1) * stride;
        const uint8_t *lb = rows->plane[0] + (size_t)(y1 < lines ? y1 : lines - 1) * stride;
        uint8_t *ya = st->mcu[(y0 >> 3) * 2] + (y0 & 7) * 8;
        uint8_t *yb = st->mcu[(y1 >> 3) * 2] + (y1 & 7) * 8;
        for (cx = 0; cx < 8; cx++) {
            const int xa = xs[2 * cx], xb = xs[2 * cx + 1], d = cx < 4 ? 2 * cx : 64 + 2 * cx - 8;
            int32_t r, g, b, sr, sg, sb;
            fetch_rgb(la, xa, fmt, &r, &g, &b);
            ya[d] = luma_of(r, g, b);
            sr = r;
            sg = g;
            sb = b;
            fetch_rgb(la, xb, fmt, &r, &g, &b);
            ya[d + 1] = luma_of(r, g, b);
            sr += r;
            sg += g;
            sb += b;
            if (v420) {
                fetch_rgb(lb, xa, fmt, &r, &g, &b);
                yb[d] = luma_of(r, g, b);
                sr += r;
                sg += g;
                sb += b;
                fetch_rgb(lb, xb, fmt, &r, &g, &b);
                yb[d + 1] = luma_of(r, g, b);
                sr += r;
                sg += g;
                sb += b;
            }
            cb[cy * 8 + cx] = clamp255((-FIX_CB_R * sr - FIX_CB_G * sg + FIX_HALF * sb + bias) >> (16 + sh));
            cr[cy * 8 + cx] = clamp255((FIX_HALF * sr - FIX_CR_G * sg - FIX_CR_B * sb + bias) >> (16 + sh));
        }
    }
}

static void load_mcu(ec_jpeg_enc *st, const ec_jpeg_rows *rows)
{
    const int fmt = st->p.format;
    const int mcu_h = st->mcu_h;
    const int v420 = st->p.subsampling == EC_JPEG_420;
    const int lines = (int)st->p.height - st->row * mcu_h < mcu_h ? (int)st->p.height - st->row * mcu_h : mcu_h;
    const int x0 = st->mcu_x * 16;
    const int w = st->p.width;
    const int cw = (w + 1) / 2;
    int xs[16], cxs[8];
    int x, y;
    for (x = 0; x < 16; x++) {
        xs[x] = x0 + x < w ? x0 + x : w - 1;
    }
    for (x = 0; x < 8; x++) {
        cxs[x] = x0 / 2 + x < cw ? x0 / 2 + x : cw - 1;
    }
    if (fmt == EC_JPEG_RGB888) {
        rgb_mcu(st, rows, xs, lines, EC_JPEG_RGB888);
        return;
    }
    if (fmt == EC_JPEG_RGB565LE) {
        rgb_mcu(st, rows, xs, lines, EC_JPEG_RGB565LE);
        return;
    }
    if (fmt == EC_JPEG_RGB565BE) {
        rgb_mcu(st, rows, xs, lines, EC_JPEG_RGB565BE);
        return;
    }
    /* YUV inputs: luma */
    for (y = 0; y < mcu_h; y++) {
        const uint8_t *line = rows->plane[0] + (size_t)(y < lines ? y : lines - 1) * rows->stride[0];
        uint8_t *yb = st->mcu[(y >> 3) * 2] + (y & 7) * 8;
        if (fmt == EC_JPEG_YUYV) {
            for (x = 0; x < 16; x++) {
                yb[(x >> 3) * 64 + (x & 7)] = line[2 * xs[x]];
            }
        } else {
            for (x = 0; x < 16; x++) {
                yb[(x >> 3) * 64 + (x & 7)] = line[xs[x]];
            }
        }
    }
    /* chroma: 8 lines of 8 samples */
    {
        uint8_t *cb = st->mcu[st->nblocks - 2], *cr = st->mcu[st->nblocks - 1];
        const int clines = fmt == EC_JPEG_I420 ? (lines + 1) / 2 : lines;
        for (y = 0; y < 8; y++) {
            if (fmt == EC_JPEG_I420 || !v420) {
                /* one source line per chroma line */
                int sy = y < clines ? y : clines - 1;
                if (fmt == EC_JPEG_YUYV) {
                    const uint8_t *line = rows->plane[0] + (size_t)sy * rows->stride[0];
                    for (x = 0; x < 8; x++) {
                        cb[y * 8 + x] = line[4 * cxs[x] + 1];
                        cr[y * 8 + x] = line[4 * cxs[x] + 3];
                    }
                } else {
                    const uint8_t *lu = rows->plane[1] + (size_t)sy * rows->stride[1];
                    const uint8_t *lv = rows->plane[2] + (size_t)sy * rows->stride[2];
                    for (x = 0; x < 8; x++) {
                        cb[y * 8 + x] = lu[cxs[x]];
                        cr[y * 8 + x] = lv[cxs[x]];
                    }
                }
            } else {
                /* 4:2:2 source coded 4:2:0: average line pairs */
                int sa = 2 * y < clines ? 2 * y : clines - 1;
                int sb = 2 * y + 1 < clines ? 2 * y + 1 : clines - 1;
                if (fmt == EC_JPEG_YUYV) {
                    const uint8_t *la = rows->plane[0] + (size_t)sa * rows->stride[0];
                    const uint8_t *lb = rows->plane[0] + (size_t)sb * rows->stride[0];
                    for (x = 0; x < 8; x++) {
                        int o = 4 * cxs[x];
                        cb[y * 8 + x] = (uint8_t)((la[o + 1] + lb[o + 1] + 1) >> 1);
                        cr[y * 8 + x] = (uint8_t)((la[o + 3] + lb[o + 3] + 1) >> 1);
                    }
                } else {
                    const uint8_t *ua = rows->plane[1] + (size_t)sa * rows->stride[1];
                    const uint8_t *ub = rows->plane[1] + (size_t)sb * rows->stride[1];
                    const uint8_t *va = rows->plane[2] + (size_t)sa * rows->stride[2];
                    const uint8_t *vb = rows->plane[2] + (size_t)sb * rows->stride[2];
                    for (x = 0; x < 8; x++) {
                        cb[y * 8 + x] = (uint8_t)((ua[cxs[x]] + ub[cxs[x]] + 1) >> 1);
                        cr[y * 8 + x] = (uint8_t)((va[cxs[x]] + vb[cxs[x]] + 1) >> 1);
                    }
                }
            }
        }
    }
}

/* ---- forward DCT and quantisation ---- */

#define C_0_382683433 3135  /* Q13 */
#define C_0_541196100 4433
#define C_0_707106781 5793
#define C_1_306562965 10703
#define MUL(x, c) (((x) * (c) + 4096) >> 13)

/* One 8-point AAN pass over p[0], p[step], ..., p[7 step], in place. Both passes together give
 * the T.81 A.3.3 FDCT coefficient S(v,u) times 8 s(u) s(v) (times 4 for the fraction bits). */
static void aan8(int32_t *p, int step)
{
    int32_t t0 = p[0] + p[7 * step], t7 = p[0] - p[7 * step];
    int32_t t1 = p[step] + p[6 * step], t6 = p[step] - p[6 * step];
    int32_t t2 = p[2 * step] + p[5 * step], t5 = p[2 * step] - p[5 * step];
    int32_t t3 = p[3 * step] + p[4 * step], t4 = p[3 * step] - p[4 * step];
    int32_t t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2;
    int32_t z1, z2, z3, z4, z5, z11, z13;
    p[0] = t10 + t11;
    p[4 * step] = t10 - t11;
    z1 = MUL(t12 + t13, C_0_707106781);
    p[2 * step] = t13 + z1;
    p[6 * step] = t13 - z1;
    t10 = t4 + t5;
    t11 = t5 + t6;
    t12 = t6 + t7;
    z5 = MUL(t10 - t12, C_0_382683433);
    z2 = MUL(t10, C_0_541196100) + z5;
    z4 = MUL(t12, C_1_306562965) + z5;
    z3 = MUL(t11, C_0_707106781);
    z11 = t7 + z3;
    z13 = t7 - z3;
    p[5 * step] = z13 + z2;
    p[3 * step] = z13 - z2;
    p[step] = z11 + z4;
    p[7 * step] = z11 - z4;
}

/* DCT of one block of samples, quantised into st->coef (zig-zag order); sets st->last. */
static void fdct_quant(ec_jpeg_enc *st, const uint8_t *in, int t)
{
    int32_t ws[64];
    const uint16_t *recip = st->recip[t];
    const uint8_t *shift = st->shift[t];
    int i, last = 0;
    for (i = 0; i < 64; i++) {
        ws[i] = ((int32_t)in[i] - 128) * 4; /* level shift (A.3.1), 2 fraction bits */
    }
    for (i = 0; i < 8; i++) {
        aan8(ws + 8 * i, 1);
    }
    for (i = 0; i < 8; i++) {
        aan8(ws + i, 8);
    }
    for (i = 0; i < 64; i++) {
        int32_t f = ws[zigzag[i]];
        int32_t sign = f < 0 ? -1 : 0;
        uint32_t a = (uint32_t)((f ^ sign) - sign), q;
        if (a > 65535u) {
            a = 65535u;
        }
        q = (a * recip[i] + (1u << (shift[i] - 1))) >> shift[i];
        if (q > 1023u) {
            q = 1023u;
        }
        st->coef[i] = (int16_t)(((int32_t)q ^ sign) - sign);
        if (q != 0) {
            last = i;
        }
    }
    st->last = (uint8_t)last;
}

/* ---- entropy coder ---- */

/* Appends n bits (n <= 16) to the bit stream, stuffing a zero byte after every 0xff (F.1.2.3). */
static void put_bits(ec_jpeg_enc *st, uint32_t bits, unsigned n)
{
    uint32_t acc = (st->acc << n) | bits;
    unsigned nb = st->nbits + n;
    uint8_t *p = st->pend + st->npend;
    while (nb >= 8) {
        uint8_t b;
        nb -= 8;
        b = (uint8_t)(acc >> nb);
        *p++ = b;
        if (b == 0xff) {
            *p++ = 0;
        }
    }
    st->acc = acc & ((1u << nb) - 1u);
    st->nbits = (uint8_t)nb;
    st->npend = (uint8_t)(p - st->pend);
}

static unsigned category(uint32_t a)
{
    return a < 256u ? nbits8[a] : 8u + nbits8[a >> 8];
}

/* Pads the last byte with 1-bits (F.1.2.3) before a marker. */
static void flush_bits(ec_jpeg_enc *st)
{
    if (st->nbits != 0) {
        unsigned n = 8u - st->nbits;
        put_bits(st, (1u << n) - 1u, n);
    }
}

static void put_marker(ec_jpeg_enc *st, uint8_t m)
{
    st->pend[st->npend++] = 0xff;
    st->pend[st->npend++] = m;
}

/* Codes the next symbol of the current block (the DC difference, a ZRL, an AC coefficient or
 * EOB); returns 1 when the block is complete. */
static int code_symbol(ec_jpeg_enc *st)
{
    const int chroma = st->blk >= st->nblocks - 2;
    int k = st->k;
    if (k == 0) {
        int comp = chroma ? st->blk - st->nblocks + 3 : 0;
        int32_t diff = st->coef[0] - st->dc_pred[comp];
        uint32_t a = (uint32_t)(diff < 0 ? -diff : diff);
        unsigned s = category(a);
        st->dc_pred[comp] = st->coef[0];
        if (chroma) {
            put_bits(st, code_dc_chr[s], len_dc_chr[s]);
        } else {
            put_bits(st, code_dc_lum[s], len_dc_lum[s]);
        }
        if (s != 0) {
            put_bits(st, (uint32_t)(diff < 0 ? diff - 1 : diff) & ((1u << s) - 1u), s);
        }
        st->k = 1;
        st->run = 0;
        return 0;
    }
    {
        const uint16_t *code = chroma ? code_ac_chr : code_ac_lum;
        const uint8_t *len = chroma ? len_ac_chr : len_ac_lum;
        unsigned run = st->run;
        int32_t v;
        uint32_t a;
        unsigned s, rs;
        if (k > st->last) {
            if (st->last < 63) {
                put_bits(st, code[0x00], len[0x00]); /* EOB */
            }
            st->k = 64;
            return 1;
        }
        while (st->coef[k] == 0) {
            run++;
            k++;
        }
        if (run > 15) {
            put_bits(st, code[0xf0], len[0xf0]); /* ZRL */
            st->run = (uint8_t)(run - 16);
            st->k = (uint8_t)k;
            return 0;
        }
        v = st->coef[k];
        a = (uint32_t)(v < 0 ? -v : v);
        s = category(a);
        rs = run << 4 | s;
        put_bits(st, code[rs], len[rs]);
        put_bits(st, (uint32_t)(v < 0 ? v - 1 : v) & ((1u << s) - 1u), s);
        st->run = 0;
        st->k = (uint8_t)(k + 1);
        if (k == 63) {
            st->k = 64;
            return 1;
        }
        return 0;
    }
}

/* Codes the whole current block straight into out, which has room for EC_JPEG_BLOCK_MAX bytes
 * (nothing pending): the common case, without the per-symbol bookkeeping of code_symbol. */
static size_t code_block_fast(ec_jpeg_enc *st, uint8_t *out)
{
    const int chroma = st->blk >= st->nblocks - 2;
    const uint16_t *code = chroma ? code_ac_chr : code_ac_lum;
    const uint8_t *len = chroma ? len_ac_chr : len_ac_lum;
    const int16_t *coef = st->coef;
    const int last = st->last;
    uint32_t acc = st->acc;
    unsigned nb = st->nbits, run = 0, s;
    uint8_t *p = out;
    int comp = chroma ? st->blk - st->nblocks + 3 : 0, k;
    int32_t v = coef[0] - st->dc_pred[comp];
    uint32_t a;
#define PUT(bits, n)                                                                                               \
    do {                                                                                                           \
        acc = (acc << (n)) | (bits);                                                                               \
        nb += (n);                                                                                                 \
        while (nb >= 8) {                                                                                          \
            uint8_t b_;                                                                                            \
            nb -= 8;                                                                                               \
            b_ = (uint8_t)(acc >> nb);                                                                             \
            *p++ = b_;                                                                                             \
            if (b_ == 0xff) {                                                                                      \
                *p++ = 0;                                                                                          \
            }                                                                                                      \
        }                                                                                                          \
    } while (0)
    st->dc_pred[comp] = coef[0];
    a = (uint32_t)(v < 0 ? -v : v);
    s = category(a);
    if (chroma) {
        PUT(code_dc_chr[s], len_dc_chr[s]);
    } else {
        PUT(code_dc_lum[s], len_dc_lum[s]);
    }
    if (s != 0) {
        PUT((uint32_t)(v < 0 ? v - 1 : v) & ((1u << s) - 1u), s);
    }
    for (k = 1; k <= last; k++) {
        unsigned rs;
        v = coef[k];
        if (v == 0) {
            run++;
            continue;
        }
        while (run > 15) {
            PUT(code[0xf0], len[0xf0]); /* ZRL */
            run -= 16;
        }
        a = (uint32_t)(v < 0 ? -v : v);
        s = category(a);
        rs = run << 4 | s;
        PUT(code[rs], len[rs]);
        PUT((uint32_t)(v < 0 ? v - 1 : v) & ((1u << s) - 1u), s);
        run = 0;
    }
    if (last < 63) {
        PUT(code[0x00], len[0x00]); /* EOB */
    }
#undef PUT
    st->acc = acc & ((1u << nb) - 1u);
    st->nbits = (uint8_t)nb;
    st->k = 64;
    return (size_t)(p - out);
}

/* ---- the pump ---- */

typedef struct {
    uint8_t *out;
    size_t cap, pos;
} sink;

/* Delivers pending bytes; returns 1 when none is left. */
static int drain(ec_jpeg_enc *st, sink *s)
{
    while (st->npend != 0 && s->pos < s->cap) {
        s->out[s->pos++] = st->pend[st->pend_off++];
        st->npend--;
    }
    if (st->npend == 0) {
        st->pend_off = 0;
        return 1;
    }
    return 0;
}

static int rows_ok(const ec_jpeg_enc *st, const ec_jpeg_rows *rows)
{
    if (rows->plane[0] == NULL) {
        return 0;
    }
    if (st->p.format >= EC_JPEG_I420 && (rows->plane[1] == NULL || rows->plane[2] == NULL)) {
        return 0;
    }
    return 1;
}

int ec_jpeg_enc_write(ec_jpeg_enc *st, const ec_jpeg_rows *rows, uint8_t *out, size_t cap)
{
    sink s;
    if (st == NULL || st->magic != JPEG_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL && cap != 0) {
        return EC_ERR_ARG;
    }
    if (cap > 0x7fffffffu) {
        cap = 0x7fffffffu;
    }
    if (rows != NULL && !rows_ok(st, rows)) {
        return EC_ERR_ARG;
    }
    s.out = out;
    s.cap = cap;
    s.pos = 0;
    for (;;) {
        if (!drain(st, &s)) {
            break;
        }
        if (st->phase == PH_HEADER) {
            window w;
            uint32_t n;
            w.out = s.out + s.pos;
            w.cap = s.cap - s.pos;
            w.skip = st->header_pos;
            w.n = 0;
            gen_header(&w, st->p.width, st->p.height, st->p.subsampling, st->qtab, st->p.restart_interval);
            n = st->header_len - st->header_pos;
            if (n > w.cap) {
                n = (uint32_t)w.cap;
            }
            s.pos += n;
            st->header_pos += n;
            if (st->header_pos < st->header_len) {
                break;
            }
            st->phase = PH_SCAN;
            continue;
        }
        if (st->phase == PH_SCAN) {
            if (s.pos >= s.cap) {
                break;
            }
            if (!st->loaded) {
                if (st->p.restart_interval != 0 && st->rst_left == 0) {
                    flush_bits(st);
                    put_marker(st, (uint8_t)(0xd0 + st->rst_next));
                    st->rst_next = (uint8_t)((st->rst_next + 1) & 7);
                    st->rst_left = st->p.restart_interval;
                    st->dc_pred[0] = st->dc_pred[1] = st->dc_pred[2] = 0;
                    continue;
                }
                if (rows == NULL) {
                    break;
                }
                load_mcu(st, rows);
                st->loaded = 1;
                st->blk = 0;
                st->block_ready = 0;
            }
            if (!st->block_ready) {
                fdct_quant(st, st->mcu[st->blk], st->blk >= st->nblocks - 2);
                st->k = 0;
                st->block_ready = 1;
            }
            if (st->k == 0 && s.cap - s.pos >= EC_JPEG_BLOCK_MAX) {
                s.pos += code_block_fast(st, s.out + s.pos);
            } else if (!code_symbol(st)) {
                continue;
            }
            st->block_ready = 0;
            if (++st->blk < st->nblocks) {
                continue;
            }
            st->loaded = 0;
            if (st->p.restart_interval != 0) {
                st->rst_left--;
            }
            if (++st->mcu_x < st->mcus_x) {
                continue;
            }
            st->mcu_x = 0;
            st->row++;
            if (st->row < st->mcu_rows) {
                drain(st, &s);
                break; /* the caller supplies the next MCU row */
            }
            st->phase = PH_TRAILER;
            continue;
        }
        if (st->phase == PH_TRAILER) {
            flush_bits(st);
            if (!(st->p.flags & EC_JPEG_SCAN_ONLY)) {
                put_marker(st, 0xd9); /* EOI */
            }
            st->phase = PH_DONE;
            continue;
        }
        break; /* PH_DONE */
    }
    return (int)s.pos;
}

int ec_jpeg_enc_frame(ec_jpeg_enc *st, const ec_jpeg_rows *frame, uint8_t *out, size_t cap)
{
    size_t pos = 0;
    if (st == NULL || st->magic != JPEG_MAGIC) {
        return EC_ERR_STATE;
    }
    if (frame == NULL || (out == NULL && cap != 0) || !rows_ok(st, frame)) {
        return EC_ERR_ARG;
    }
    if (cap > 0x7fffffffu) {
        cap = 0x7fffffffu;
    }
    for (;;) {
        ec_jpeg_rows r = *frame;
        int row = st->row, n;
        if (row < st->mcu_rows) {
            size_t luma = (size_t)row * st->mcu_h;
            size_t chroma = st->p.format == EC_JPEG_I420 ? luma / 2 : luma;
            r.plane[0] += luma * r.stride[0];
            if (st->p.format >= EC_JPEG_I420) {
                r.plane[1] += chroma * r.stride[1];
                r.plane[2] += chroma * r.stride[2];
            }
        }
        n = ec_jpeg_enc_write(st, row < st->mcu_rows ? &r : NULL, out + pos, cap - pos);
        if (n < 0) {
            return n;
        }
        pos += (size_t)n;
        if (ec_jpeg_enc_done(st) || pos == cap || (n == 0 && st->row == row)) {
            break;
        }
    }
    return (int)pos;
}
