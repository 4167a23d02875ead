package dev.montage.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.montage.dist.Montage;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job on a standalone cluster on loopback: a master and a worker started here in JVMs of their own from Spark's
 * classes, the executor killed once as soon as the first request's files are there; every request's files still
 * appear exactly once, whole.
 */
class ClusterBatchTest {
    private static final Duration START = Duration.ofSeconds(90);
    private static final String EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend";

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void killingTheExecutorMidJobStillYieldsEveryOutputOnce() throws Exception {
        Path manifest = BatchManifest.write(dir);
        Path out = dir.resolve("out");
        // the worker builds executors' class paths from SPARK_HOME/jars; the class path of this test stands in
        Path sparkHome = Files.createDirectories(dir.resolve("spark-home/jars")).getParent();
        String classPath = System.getProperty("java.class.path");
        int masterPort = freePort();
        int masterUi = freePort();
        List<Process> daemons = new ArrayList<>();
        try {
            daemons.add(daemon("master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", "" + masterPort, "--webui-port", "" + masterUi), sparkHome, classPath));
            Process worker = daemon("worker", List.of("org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                    "--webui-port", "" + freePort(), "--cores", "2", "--memory", "2g", "--work-dir",
                    dir.resolve("work").toString(), "spark://127.0.0.1:" + masterPort), sparkHome, classPath);
            daemons.add(worker);
            await("the worker to register with the master", () -> aliveWorkers(masterUi) == 1);

            AtomicLong killed = new AtomicLong();
            Thread killer = new Thread(() -> killExecutorAfterFirstResult(worker, out, killed), "executor-killer");
            killer.setDaemon(true);
            Map<String, String> conf = Map.of("spark.executor.extraClassPath", classPath,
                    "spark.executor.memory", "1g", "spark.cores.max", "2");
            conf.forEach(System::setProperty);
            int code;
            try {
                killer.start();
                code = Montage.run("batch", "--manifest", manifest.toString(), "--out", out.toString(), "--master",
                        "spark://127.0.0.1:" + masterPort, "--profile", "tiny");
            } finally {
                conf.keySet().forEach(System::clearProperty);
                killer.interrupt();
            }
            assertTrue(killed.get() > 0, "an executor was killed mid-job");
            assertEquals(1, code, "one request fails, the job does not");
            Map<String, JsonNode> results = BatchManifest.checkOutputs(out);
            for (JsonNode row : results.values()) {
                if (row.get("status").asText().equals("succeeded")) {
                    JsonNode sidecar = BatchManifest.JSON.readTree(out.resolve(row.get("id").asText() + ".json")
                            .toFile());
                    assertEquals(row.get("id").asText(), sidecar.get("montage").get("id").asText());
                }
            }
        } finally {
            Collections.reverse(daemons);
            for (Process p : daemons) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** Kills the worker's executor once the first request's sidecar is written. */
    private static void killExecutorAfterFirstResult(Process worker, Path out, AtomicLong killed) {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                if (hasSidecar(out)) {
                    Optional<ProcessHandle> executor = worker.descendants().filter(p -> commandLine(p)
                            .contains(EXECUTOR_CLASS)).findFirst();
                    if (executor.isPresent()) {
                        executor.get().destroyForcibly();
                        killed.set(executor.get().pid());
                        return;
                    }
                }
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean hasSidecar(Path out) {
        if (!Files.isDirectory(out)) {
            return false;
        }
        try (Stream<Path> files = Files.list(out)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith(".json"));
        } catch (IOException e) {
            return false;
        }
    }

    /** The whole command line (ProcessHandle's may be cut short). */
    private static String commandLine(ProcessHandle p) {
        try {
            return Files.readString(Path.of("/proc", "" + p.pid(), "cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return p.info().commandLine().orElse("");
        }
    }

    private Process daemon(String name, List<String> mainAndArguments, Path sparkHome, String classPath)
            throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx512m", "-Dlog4j2.configurationFile=" + System.getProperty("log4j2.configurationFile")));
        command.addAll(List.of(System.getProperty("montage.spark.java.options").trim().split("\\s+")));
        command.addAll(List.of("-cp", classPath));
        command.addAll(mainAndArguments);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        builder.environment().put("SPARK_HOME", sparkHome.toString());
        builder.environment().put("SPARK_SCALA_VERSION", "2.13");
        builder.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return builder.start();
    }

    private static int aliveWorkers(int masterUi) {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + masterUi + "/json/")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode status = BatchManifest.JSON.readTree(r.body());
            assertNotNull(status.get("aliveworkers"), r.body());
            return status.get("aliveworkers").asInt();
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + START.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + START.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(250);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
