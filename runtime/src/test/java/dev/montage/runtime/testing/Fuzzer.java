package dev.montage.runtime.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A small mutation fuzzer for the parsers of files Montage reads from users: it derives inputs from valid seeds
 * (bit flips, byte overwrites, big and negative numbers, truncations, insertions, repeated chunks, splices of two
 * seeds, deep nesting) with a fixed seed, so a failure is reproduced by running the test again, and checks that
 * each input either parses or fails with the parser's named error type and a message, within a time bound and
 * without any other exception or error. A failing input is written under {@code target/fuzz-failures}.
 */
public final class Fuzzer {
    /** What one input is given to. */
    @FunctionalInterface
    public interface Parser {
        void parse(byte[] input) throws Exception;
    }

    /** A bound far above any input's honest parse time, generous for a loaded 2-core machine. */
    private static final Duration PER_INPUT = Duration.ofSeconds(5);
    private static final byte[][] TOKENS = tokens("[", "]", "{", "}", "\"", ",", ":", "-", "0", "1e309", "-1e10",
            "99999999999999999999", "2147483648", "-2147483649", "1000000000", "null", "true", "\\u0000", "\n", "---\n",
            "&a [*a, *a]", "!!binary", "\u00ff\u00fe");
    private static final long[] NUMBERS = {0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFFL, 0x8000_0000L,
        0xFFFF_FFFFL, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 40};

    private final String name;
    private final Random random;
    private final List<byte[]> seeds;

    /**
     * @param name  the parser, for messages and the names of failing inputs
     * @param seed  the random seed of the whole run
     * @param seeds valid inputs to derive the others from
     */
    public Fuzzer(String name, long seed, List<byte[]> seeds) {
        this.name = name;
        this.random = new Random(seed);
        this.seeds = List.copyOf(seeds);
    }

    /**
     * Runs the seeds and then mutated inputs through {@code parser}, until {@code inputs} have run or
     * {@code budget} is spent.
     *
     * @param allowed the parser's named error types
     * @return how many inputs ran
     */
    @SafeVarargs
    public final int run(int inputs, Duration budget, Parser parser, Class<? extends Throwable>... allowed) {
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-" + name);
            t.setDaemon(true);
            return t;
        });
        long deadline = System.nanoTime() + budget.toNanos();
        int ran = 0;
        try {
            for (; ran < inputs && (ran < seeds.size() || System.nanoTime() < deadline); ran++) {
                byte[] input = ran < seeds.size() ? seeds.get(ran) : mutate();
                check(ran, input, worker.submit(() -> {
                    parser.parse(input);
                    return null;
                }), allowed);
            }
        } finally {
            worker.shutdownNow();
        }
        System.out.printf("fuzz %s: %d inputs in %d ms%n", name, ran,
                (System.nanoTime() - deadline + budget.toNanos()) / 1_000_000);
        return ran;
    }

    private void check(int index, byte[] input, Future<?> result, Class<? extends Throwable>[] allowed) {
        Throwable thrown;
        try {
            result.get(PER_INPUT.toMillis(), TimeUnit.MILLISECONDS);
            return;
        } catch (TimeoutException e) {
            result.cancel(true);
            throw failure(index, input, "took more than " + PER_INPUT, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            thrown = e.getCause();
        }
        for (Class<? extends Throwable> type : allowed) {
            if (type.isInstance(thrown)) {
                if (thrown.getMessage() == null || thrown.getMessage().isBlank()) {
                    throw failure(index, input, "threw " + type.getSimpleName() + " without a message", thrown);
                }
                return;
            }
        }
        throw failure(index, input, "threw " + thrown, thrown);
    }

    private AssertionError failure(int index, byte[] input, String what, Throwable cause) {
        Path saved = Path.of("target", "fuzz-failures", name + "-" + index + ".bin");
        try {
            Files.createDirectories(saved.getParent());
            Files.write(saved, input);
        } catch (IOException e) {
            saved = null;
        }
        return new AssertionError(name + " input " + index + " (" + input.length + " bytes" + (saved == null ? ""
                : ", saved as " + saved.toAbsolutePath()) + ") " + what, cause);
    }

    /** A seed with one to four mutations, or two seeds spliced. */
    private byte[] mutate() {
        byte[] data = seeds.get(random.nextInt(seeds.size())).clone();
        int count = 1 + random.nextInt(4);
        for (int i = 0; i < count; i++) {
            data = mutateOnce(data);
        }
        return data;
    }

    private byte[] mutateOnce(byte[] data) {
        int at = data.length == 0 ? 0 : random.nextInt(data.length);
        switch (random.nextInt(9)) {
            case 0 -> {
                if (data.length > 0) {
                    data[at] ^= (byte) (1 << random.nextInt(8));
                }
            }
            case 1 -> {
                if (data.length > 0) {
                    data[at] = (byte) random.nextInt(256);
                }
            }
            case 2 -> { // a big or negative number over 1, 2, 4 or 8 bytes, either byte order
                int width = 1 << random.nextInt(4);
                long value = NUMBERS[random.nextInt(NUMBERS.length)];
                boolean bigEndian = random.nextBoolean();
                for (int b = 0; b < width && at + b < data.length; b++) {
                    int shift = 8 * (bigEndian ? width - 1 - b : b);
                    data[at + b] = (byte) (value >>> shift);
                }
            }
            case 3 -> data = Arrays.copyOf(data, at); // truncation
            case 4 -> data = insert(data, at, randomBytes(1 + random.nextInt(16)));
            case 5 -> data = insert(data, at, TOKENS[random.nextInt(TOKENS.length)]);
            case 6 -> { // a chunk repeated
                int length = Math.min(data.length - at, 1 + random.nextInt(64));
                byte[] chunk = Arrays.copyOfRange(data, at, at + length);
                data = insert(data, at, repeat(chunk, 1 + random.nextInt(32)));
            }
            case 7 -> { // the head of this input and the tail of another seed
                byte[] other = seeds.get(random.nextInt(seeds.size()));
                int from = other.length == 0 ? 0 : random.nextInt(other.length);
                data = insert(Arrays.copyOf(data, at), at, Arrays.copyOfRange(other, from,
                        other.length));
            }
            default -> { // deep nesting
                int depth = 1 + random.nextInt(5000);
                byte[] open = random.nextBoolean() ? "[".getBytes(StandardCharsets.US_ASCII)
                        : "{\"a\":".getBytes(StandardCharsets.US_ASCII);
                data = insert(data, at, repeat(open, depth));
            }
        }
        return data;
    }

    private byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] insert(byte[] data, int at, byte[] inserted) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(data.length + inserted.length);
        out.write(data, 0, at);
        out.writeBytes(inserted);
        out.write(data, at, data.length - at);
        return out.toByteArray();
    }

    private static byte[] repeat(byte[] chunk, int times) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(chunk.length * times);
        for (int i = 0; i < times; i++) {
            out.writeBytes(chunk);
        }
        return out.toByteArray();
    }

    private static byte[][] tokens(String... tokens) {
        byte[][] bytes = new byte[tokens.length][];
        for (int i = 0; i < tokens.length; i++) {
            bytes[i] = tokens[i].getBytes(StandardCharsets.UTF_8);
        }
        return bytes;
    }
}
