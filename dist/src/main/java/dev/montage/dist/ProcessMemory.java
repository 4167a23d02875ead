package dev.montage.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * This process's resident memory as Linux reports it in {@code /proc/self/status} (resident set now, and its peak
 * since start or since the last {@link #resetPeak()}), and the memory the machine has available. Elsewhere every
 * reading is empty.
 */
final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");
    private static final Path MEMINFO = Path.of("/proc/meminfo");

    private ProcessMemory() {
    }

    /** {@code VmRSS}: resident bytes now. */
    static OptionalLong residentBytes() {
        return kibField(STATUS, "VmRSS:");
    }

    /** {@code VmHWM}: the peak of resident bytes since start or the last reset. */
    static OptionalLong peakResidentBytes() {
        return kibField(STATUS, "VmHWM:");
    }

    /**
     * Restarts the peak at the current resident size (Linux 4.0+: writing 5 to {@code clear_refs}).
     *
     * @return whether the peak was reset; when not, later peaks cover the whole process life
     */
    static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
            return true;
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** {@code MemAvailable}: what the machine can give without swapping. */
    static OptionalLong availableBytes() {
        return kibField(MEMINFO, "MemAvailable:");
    }

    /** {@code MemTotal}. */
    static OptionalLong totalBytes() {
        return kibField(MEMINFO, "MemTotal:");
    }

    private static OptionalLong kibField(Path file, String field) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(field)) {
                    String value = line.substring(field.length()).trim();
                    return OptionalLong.of(Long.parseLong(value.substring(0, value.indexOf(' '))) * 1024);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or hidden: no reading
        }
        return OptionalLong.empty();
    }
}
