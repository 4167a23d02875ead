package dev.montage.dist;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Passes a byte stream on, leaving out whole lines that match one of a few patterns and counting them. A line ends
 * at {@code \n} or {@code \r} (progress frames end with the latter). The start of a line is held back only while it
 * could still become a line that is left out, so progress frames and prompts that end without a newline still
 * appear at once.
 */
final class NoiseFilter {
    /**
     * What native libraries print on every CPU run and tells nothing: DJL probes for a CUDA driver at each engine
     * start and logs its absence twice; PyTorch asks NNPACK about each small CPU convolution and logs, once per
     * thread, that the processor lacks what NNPACK needs, and then computes the convolution with its own kernel
     * (the same one it uses when NNPACK is switched off).
     */
    static final List<Noise> NATIVE_NOISE = List.of(
            new Noise("DJL's CUDA probe", Pattern.compile(
                    "\\[[^\\]]*\\] WARN ai\\.djl\\.util\\.cuda\\.CudaUtils - Failed to detect GPU count: .*")),
            new Noise("PyTorch's NNPACK notice", Pattern.compile(
                    "\\[W[0-9 :.]+NNPACK\\.cpp:\\d+\\] Could not initialize NNPACK! Reason: Unsupported hardware\\.\\s*")));

    /**
     * A kind of line that is left out.
     *
     * @param what    its source, for the report
     * @param pattern the whole line (without its end)
     */
    record Noise(String what, Pattern pattern) {
    }

    private final List<Noise> kinds;
    private final OutputStream out;
    private final ByteArrayOutputStream held = new ByteArrayOutputStream();
    /** Whether the current line has been written in part, so the rest of it goes out too. */
    private boolean passing;
    /** Lines left out of each kind, and the first of them. */
    private final Map<Noise, Integer> counts = new LinkedHashMap<>();
    private final Map<Noise, String> examples = new LinkedHashMap<>();

    NoiseFilter(List<Noise> kinds, OutputStream out) {
        this.kinds = List.copyOf(kinds);
        this.out = out;
    }

    /** Takes the next bytes of the stream. */
    synchronized void write(byte[] bytes, int offset, int length) throws IOException {
        int start = offset;
        int end = offset + length;
        if (passing && couldBeNoise(withoutEnd(Arrays.copyOfRange(bytes, offset, lineEnd(bytes, offset, end))))) {
            // native code writes whole lines, so one that starts after a progress frame starts a line of its own
            passing = false;
        }
        for (int i = offset; i < end; i++) {
            byte b = bytes[i];
            if (b == '\n' || b == '\r') {
                lineEnds(bytes, start, i + 1);
                start = i + 1;
            }
        }
        if (start < end) {
            if (passing) {
                out.write(bytes, start, end - start);
            } else {
                held.write(bytes, start, end - start);
                if (!couldBeNoise(text(held.toByteArray()))) {
                    held.writeTo(out);
                    held.reset();
                    passing = true;
                }
            }
        }
        out.flush();
    }

    private static int lineEnd(byte[] bytes, int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] == '\n' || bytes[i] == '\r') {
                return i + 1;
            }
        }
        return to;
    }

    private void lineEnds(byte[] bytes, int from, int to) throws IOException {
        if (passing) {
            out.write(bytes, from, to - from);
            passing = false;
            return;
        }
        held.write(bytes, from, to - from);
        byte[] line = held.toByteArray();
        held.reset();
        String text = withoutEnd(line);
        Noise noise = kinds.stream().filter(k -> k.pattern().matcher(text).matches()).findFirst().orElse(null);
        if (noise != null) {
            counts.merge(noise, 1, Integer::sum);
            examples.putIfAbsent(noise, text);
        } else {
            out.write(line);
        }
    }

    /** Writes a line that is still held (the stream ended without its end). */
    synchronized void end() throws IOException {
        held.writeTo(out);
        held.reset();
        passing = false;
        out.flush();
    }

    /** What was left out so far, one line per kind in the order first seen: its source, count and first line. */
    synchronized List<String> report() {
        return counts.entrySet().stream().map(e -> e.getKey().what() + ", " + e.getValue() + " line(s) such as: "
                + examples.get(e.getKey())).toList();
    }

    private boolean couldBeNoise(String start) {
        for (Noise k : kinds) {
            Matcher m = k.pattern().matcher(start);
            if (m.matches() || m.hitEnd()) {
                return true;
            }
        }
        return false;
    }

    private static String withoutEnd(byte[] line) {
        return text(line).replaceFirst("[\r\n]$", "");
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }
}
