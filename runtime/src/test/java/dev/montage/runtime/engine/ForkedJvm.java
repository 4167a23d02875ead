package dev.montage.runtime.engine;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Runs a main class of the test class path in a child JVM, so that a native abort cannot end the build. */
final class ForkedJvm {
    private static final long TIMEOUT_SECONDS = 300;

    /** Exit status and merged stdout/stderr of a finished child; 134 is SIGABRT (std::terminate). */
    record Result(int exitCode, String output) {
        List<String> lines() {
            return output.lines().collect(Collectors.toList());
        }
    }

    private ForkedJvm() {
    }

    static Result run(Class<?> mainClass, List<String> args) throws IOException, InterruptedException {
        Path workDir = Files.createDirectories(Path.of("target", "forked-jvm"));
        Path log = Files.createTempFile(workDir, mainClass.getSimpleName(), ".log");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "-Dai.djl.offline=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", absoluteClassPath(),
                mainClass.getName()));
        command.addAll(args);
        // core files and JVM crash logs of an aborting child land in target/, not in the sources
        Process process = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new IllegalStateException(mainClass.getName() + " did not finish in " + TIMEOUT_SECONDS + " s:\n"
                    + Files.readString(log, StandardCharsets.UTF_8));
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Files.delete(log);
        return new Result(process.exitValue(), output);
    }

    /** The child runs in another directory, so relative class path entries are resolved here. */
    private static String absoluteClassPath() {
        return Stream.of(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(entry -> Path.of(entry).toAbsolutePath().toString())
                .collect(Collectors.joining(File.pathSeparator));
    }
}
