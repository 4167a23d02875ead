package dev.montage.runtime.engine;

/**
 * Starts one engine after the other with the intra-op thread counts given as arguments and prints the count each
 * computes with; run in a JVM of its own, where no other engine is open.
 */
final class IntraOpThreadsMain {
    private IntraOpThreadsMain() {
    }

    public static void main(String[] args) {
        for (String count : args) {
            try (MontageEngine engine = MontageEngine.start(new EngineConfig("cpu", "float32",
                    Integer.parseInt(count), 0))) {
                System.out.println("intra-op threads: " + engine.info().intraOpThreads());
            }
        }
    }
}
