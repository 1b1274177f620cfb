/* opus_silk_edsp.h — force-included (-include) into every libopus object of a NC_OPUS_EDSP=silk
 * build (micropython.mk, Makefile), which also defines OPUS_ARM_INLINE_ASM and
 * OPUS_ARM_INLINE_EDSP: SILK takes its ARMv7E-M DSP inline assembly, CELT keeps its plain C.
 *
 * SILK's ARM macros (silk/arm/macros_armv4.h, macros_armv5e.h, SigProc_FIX_armv4.h,
 * SigProc_FIX_armv5e.h: SMULWB/SMLAWB/SMULWT/SMLAWT/SMULWW/SMLAWW as smulw / smlaw / smull,
 * SMULBB/SMLABB/SMULBT/SMLABT/SMULTT/SMLATT, ADD_SAT32/SUB_SAT32 as qadd/qsub, CLZ16/CLZ32, MLA)
 * compute exactly what their C macros compute (the C forms split the 32x16 products into halves
 * and keep every bit of floor(a * b / 2^16)). CELT's (celt/arm/fixed_armv4.h, fixed_armv5e.h,
 * kiss_fft_armv4.h, kiss_fft_armv5e.h) do not all: MULT16_32_Q15 is smulwb shifted left by one,
 * which loses the product's bit 15, and MULT32_32_Q31 keeps the low halves' product the C form
 * drops. Defining their include guards here makes those headers empty, so CELT (and the CELT
 * headers that SILK and the Opus layer include) keeps fixed_generic.h's C macros: the encoder's
 * and decoder's output stays bit-exact with the host's plain C build (tests/test_natmod_media.py,
 * tests/test_natmod.py).
 */
#ifndef NC_OPUS_SILK_EDSP_H
#define NC_OPUS_SILK_EDSP_H

#define FIXED_ARMv4_H
#define FIXED_ARMv5E_H
#define KISS_FFT_ARMv4_H
#define KISS_FFT_ARMv5E_H

#endif
