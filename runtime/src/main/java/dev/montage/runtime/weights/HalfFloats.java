package dev.montage.runtime.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** IEEE 754 binary16 and bfloat16 conversions (Java 17 has neither built in). */
public final class HalfFloats {
    private HalfFloats() {
    }

    /** Widens a binary16 value exactly. */
    public static float toFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal: value = mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Narrows to binary16 with round-to-nearest-even, as PyTorch's {@code .half()} does. */
    public static short fromFloat(float value) {
        int f = Float.floatToRawIntBits(value);
        int sign = (f >>> 16) & 0x8000;
        int exp = (f >>> 23) & 0xFF;
        int mant = f & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            int m = mant | 0x800000;
            int shift = 14 - e;
            int half = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
            half++;
        }
        return (short) (sign | half);
    }

    /**
     * Whether a tensor stored as {@code from} narrows to {@code to}: F32 and BF16 to binary16 (F16), F32 and F16 to
     * bfloat16 (BF16).
     */
    static boolean narrows(TensorDType from, TensorDType to) {
        return to == TensorDType.F16 && (from == TensorDType.F32 || from == TensorDType.BF16)
                || to == TensorDType.BF16 && (from == TensorDType.F32 || from == TensorDType.F16);
    }

    /**
     * A tensor's values narrowed to binary16 ({@link #fromFloat}) or bfloat16 ({@link #floatToBf16}), little-endian; a
     * 16-bit source is widened exactly first.
     *
     * @throws IllegalArgumentException when the tensor does not {@link #narrows narrow} to {@code to}
     */
    static ByteBuffer narrowed(RawTensor tensor, TensorDType to) {
        TensorDType from = tensor.dtype();
        if (!narrows(from, to)) {
            throw new IllegalArgumentException("tensor '" + tensor.name() + "' is " + from + " and does not narrow to "
                    + to);
        }
        ByteBuffer in = tensor.data();
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(tensor.numel() * 2)).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            float value = from == TensorDType.F32 ? in.getFloat()
                    : from == TensorDType.F16 ? toFloat(in.getShort()) : bf16ToFloat(in.getShort());
            out.putShort(to == TensorDType.F16 ? fromFloat(value) : floatToBf16(value));
        }
        return out.flip();
    }

    /** Widens a bfloat16 value exactly. */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /** Narrows to bfloat16 with round-to-nearest-even (NaN stays NaN). */
    public static short floatToBf16(float value) {
        int f = Float.floatToRawIntBits(value);
        if ((f & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((f >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((f >>> 16) & 1);
        return (short) ((f + rounding) >>> 16);
    }
}
