package dev.montage.dist;

import dev.montage.runtime.engine.NativeMemory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a benchmark figure depends on: processor, cores, memory, the native allocator, the NVIDIA GPUs and their driver,
 * and how busy the machine is.
 */
final class MachineInfo {
    /** Where NVIDIA's Linux driver describes itself and each GPU (containers given GPUs see it too). */
    private static final Path NVIDIA_DRIVER = Path.of("/proc/driver/nvidia");
    /** The first dotted number of the driver's version line (x86_64 has no dot). */
    private static final Pattern DRIVER_VERSION = Pattern.compile("NVRM version:.*?\\s(\\d+\\.\\d+(?:\\.\\d+)*)\\s");

    private MachineInfo() {
    }

    /** Processor model, cores the JVM may use, total memory, operating system, Java, how native memory is allocated. */
    static Map<String, Object> facts() {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("cpu", cpuModel());
        facts.put("cores", Runtime.getRuntime().availableProcessors());
        ProcessMemory.totalBytes().ifPresent(b -> facts.put("memory_bytes", b));
        facts.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        facts.put("java", System.getProperty("java.version"));
        facts.put("allocator", NativeMemory.describe());
        facts.putAll(nvidia(NVIDIA_DRIVER));
        return facts;
    }

    /**
     * {@code gpus}, the model of each NVIDIA GPU, and {@code nvidia_driver}, the driver's version, as the driver's
     * folder under {@code /proc} states them; empty where there is none.
     */
    static Map<String, Object> nvidia(Path driver) {
        Map<String, Object> facts = new LinkedHashMap<>();
        List<String> gpus = new ArrayList<>();
        try (Stream<Path> devices = Files.list(driver.resolve("gpus"))) {
            for (Path device : devices.sorted().toList()) {
                field(device.resolve("information"), "Model").ifPresent(gpus::add);
            }
        } catch (IOException | SecurityException e) {
            return facts; // no NVIDIA driver
        }
        facts.put("gpus", gpus);
        try {
            Matcher version = DRIVER_VERSION.matcher(Files.readString(driver.resolve("version")));
            if (version.find()) {
                facts.put("nvidia_driver", version.group(1));
            }
        } catch (IOException | SecurityException e) {
            // the GPUs are known without it
        }
        return facts;
    }

    /** The value of a "Name: value" line. */
    private static Optional<String> field(Path file, String name) throws IOException {
        for (String line : Files.readAllLines(file)) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                return Optional.of(line.substring(colon + 1).trim());
            }
        }
        return Optional.empty();
    }

    /** The facts on one line. */
    static String describe() {
        Map<String, Object> f = facts();
        Object memory = f.get("memory_bytes");
        return f.get("cpu") + ", " + f.get("cores") + " cores"
                + (memory == null ? "" : String.format(Locale.ROOT, ", %.1f GiB", ((Long) memory) / (double) (1 << 30)))
                + "; " + f.get("allocator") + gpus(f);
    }

    /** "; GPU: <model>, ... (NVIDIA driver <version>)", or nothing without an NVIDIA driver. */
    static String gpus(Map<String, Object> facts) {
        if (!(facts.get("gpus") instanceof List<?> gpus)) {
            return "";
        }
        Object driver = facts.get("nvidia_driver");
        return "; GPU: " + (gpus.isEmpty() ? "none visible" : gpus.stream().map(String::valueOf)
                .collect(Collectors.joining(", "))) + (driver == null ? "" : " (NVIDIA driver " + driver + ")");
    }

    /** The 1, 5 and 15 minute load averages, or "unknown". */
    static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | SecurityException e) {
            // not Linux, or hidden
        }
        return System.getProperty("os.arch");
    }
}
