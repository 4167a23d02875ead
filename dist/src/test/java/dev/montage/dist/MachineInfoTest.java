package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MachineInfoTest {
    @TempDir
    Path driver;

    private void gpu(String bus, String model) throws IOException {
        Path device = Files.createDirectories(driver.resolve("gpus").resolve(bus));
        Files.writeString(device.resolve("information"), "Model: \t\t " + model + "\nIRQ:   \t\t 123\n"
                + "GPU UUID: \t GPU-6d0c3b1e\nBus Location: \t " + bus + "\nDevice Minor: \t 0\n");
    }

    @Test
    void namesEachNvidiaGpuAndTheDriverAsTheDriverStatesThem() throws IOException {
        gpu("0000:c2:00.0", "NVIDIA H100 80GB HBM3");
        gpu("0000:1a:00.0", "NVIDIA A100-SXM4-80GB");
        Files.writeString(driver.resolve("version"), "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  "
                + "Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n");
        Map<String, Object> facts = MachineInfo.nvidia(driver);
        assertEquals(Map.of("gpus", List.of("NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"),
                "nvidia_driver", "550.54.15"), facts, "in bus order");
        assertEquals("; GPU: NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3 (NVIDIA driver 550.54.15)",
                MachineInfo.gpus(facts));
    }

    @Test
    void readsTheVersionOfTheOpenKernelModule() throws IOException {
        gpu("0000:01:00.0", "NVIDIA H200");
        Files.writeString(driver.resolve("version"), "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
                + "580.65.06  Release Build  (dvs-builder@U16-I3-B08-4-3)  Sun Jul 27 07:09:29 UTC 2025\n");
        assertEquals("580.65.06", MachineInfo.nvidia(driver).get("nvidia_driver"));
    }

    @Test
    void saysSoWhenTheDriverShowsNoGpu() throws IOException {
        Files.createDirectories(driver.resolve("gpus"));
        Map<String, Object> facts = MachineInfo.nvidia(driver);
        assertEquals(Map.of("gpus", List.of()), facts);
        assertEquals("; GPU: none visible", MachineInfo.gpus(facts));
    }

    @Test
    void saysNothingOfGpusWithoutAnNvidiaDriver() {
        Map<String, Object> facts = MachineInfo.nvidia(driver.resolve("absent"));
        assertEquals(Map.of(), facts);
        assertEquals("", MachineInfo.gpus(facts));
    }
}
