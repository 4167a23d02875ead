package dev.montage.runtime.weights;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds pickle streams opcode by opcode, to feed the reader hand-made (and hostile) input. */
final class PickleBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Starts a protocol 2 stream. */
    static PickleBuilder protocol2() {
        return new PickleBuilder().op(0x80).raw(2);
    }

    PickleBuilder op(int opcode) {
        out.write(opcode);
        return this;
    }

    PickleBuilder raw(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }

    /** GLOBAL 'module\nname\n'. */
    PickleBuilder global(String module, String name) {
        op('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** BINUNICODE. */
    PickleBuilder string(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        op('X').int32(utf8.length);
        out.writeBytes(utf8);
        return this;
    }

    /** SHORT_BINUNICODE (protocol 4). */
    PickleBuilder shortString(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        op(0x8C).raw(utf8.length);
        out.writeBytes(utf8);
        return this;
    }

    /** BININT1. */
    PickleBuilder int1(int value) {
        return op('K').raw(value);
    }

    PickleBuilder int32(int value) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
        return this;
    }

    PickleBuilder stop() {
        return op('.');
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
