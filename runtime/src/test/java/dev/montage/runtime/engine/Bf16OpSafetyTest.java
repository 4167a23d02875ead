package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.engine.Bf16OpProbe.Probe;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Re-measures the op table of KERNELS.md: which DJL operations on bf16 arrays work, throw, or abort the JVM.
 * Each child JVM runs the remaining probes until one aborts; the next child starts after that one.
 */
class Bf16OpSafetyTest {

    @Test
    void djlOperationsOnBf16ArraysBehaveAsDocumented() throws Exception {
        Map<String, String> observed = new LinkedHashMap<>();
        List<String> remaining = new ArrayList<>(Bf16OpProbe.PROBES.stream().map(Probe::name).toList());
        while (!remaining.isEmpty()) {
            ForkedJvm.Result child = ForkedJvm.run(Bf16OpProbe.class, remaining);
            String begun = null;
            for (String line : child.lines()) {
                if (line.startsWith("BEGIN ")) {
                    begun = line.substring("BEGIN ".length());
                } else if (line.startsWith("RESULT " + begun + " ")) {
                    observed.put(begun, line.substring(("RESULT " + begun + " ").length()));
                    remaining.remove(begun);
                    begun = null;
                }
            }
            if (child.exitCode() == 0) {
                assertTrue(remaining.isEmpty(), "the probe exited without running " + remaining + ":\n" + child.output());
            } else {
                assertTrue(begun != null && begun.equals(remaining.get(0)),
                        "the probe died outside an operation (exit " + child.exitCode() + "):\n" + child.output());
                observed.put(begun, Bf16OpProbe.Outcome.ABORTS + " (exit " + child.exitCode() + ")");
                remaining.remove(0);
            }
        }
        StringBuilder mismatches = new StringBuilder();
        for (Probe probe : Bf16OpProbe.PROBES) {
            String outcome = observed.get(probe.name());
            if (!outcome.startsWith(probe.expected().name())) {
                mismatches.append(probe.name()).append(": expected ").append(probe.expected())
                        .append(", observed ").append(outcome).append('\n');
            }
        }
        assertEquals("", mismatches.toString(), "update Bf16OpProbe.PROBES and KERNELS.md");
    }
}
