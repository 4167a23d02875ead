package dev.montage.dist;

import dev.montage.runtime.engine.NativeMemory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** What a benchmark figure depends on: processor, cores, memory, the native allocator, and how busy the machine is. */
final class MachineInfo {
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
        return facts;
    }

    /** The facts on one line. */
    static String describe() {
        Map<String, Object> f = facts();
        Object memory = f.get("memory_bytes");
        return f.get("cpu") + ", " + f.get("cores") + " cores"
                + (memory == null ? "" : String.format(Locale.ROOT, ", %.1f GiB", ((Long) memory) / (double) (1 << 30)))
                + "; " + f.get("allocator");
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
