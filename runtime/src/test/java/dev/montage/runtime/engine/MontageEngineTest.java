package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.montage.api.host.ComputeDType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MontageEngineTest {

    /** A failed native-library load says DJL's reason and where a library could come from, for each way to start. */
    @Test
    void aMissingNativeLibraryIsExplainedForHowTheProcessStarted() {
        EngineException e = new EngineException("Failed to save pytorch index file",
                new java.io.IOException("Offline mode is enabled."));

        String offline = MontageEngine.nativeLibraryMissing(e, null, true);
        assertTrue(offline.startsWith("PyTorch's native library could not be loaded (Failed to save pytorch index "
                + "file: Offline mode is enabled.): no native library is on the class path"), offline);
        assertTrue(offline.contains("PYTORCH_LIBRARY_PATH names no installed libtorch")
                && offline.contains("-Dai.djl.offline=false"), offline);

        String installed = MontageEngine.nativeLibraryMissing(e, "/opt/libtorch/lib", true);
        assertTrue(installed.contains("PYTORCH_LIBRARY_PATH names /opt/libtorch/lib, which must be the lib folder of "
                + "a libtorch"), installed);

        String download = MontageEngine.nativeLibraryMissing(e, null, false);
        assertTrue(download.contains("DJL could not download the build PYTORCH_FLAVOR names"), download);
        assertFalse(download.contains("driver"), download);
    }

    /** A CUDA libtorch on a machine without the NVIDIA driver fails on the driver's library: that is said first. */
    @Test
    void aCudaLibtorchWithoutTheDriverIsExplainedAsSuch() {
        EngineException e = new EngineException("Failed to load PyTorch native library",
                new UnsatisfiedLinkError("/venv/torch/lib/libcaffe2_nvrtc.so: libcuda.so.1: cannot open shared "
                        + "object file: No such file or directory"));

        String message = MontageEngine.nativeLibraryMissing(e, "/venv/torch/lib", true);

        assertTrue(message.contains("No such file or directory): libcuda.so.1 is the NVIDIA driver's library: a "
                + "CUDA build of libtorch loads only where the driver is installed"), message);
        assertTrue(message.contains("PYTORCH_LIBRARY_PATH names /venv/torch/lib"), message);
    }

    @Test
    void startsPyTorch271OnTheCpuOffline() {
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "float32"))) {
            EngineInfo info = engine.info();

            assertEquals("true", System.getProperty("ai.djl.offline"));
            assertEquals("PyTorch", info.engineName());
            assertEquals("2.7.1", info.engineVersion());
            assertEquals("cpu", info.device());
            assertEquals(Device.cpu(), engine.device());
            assertEquals(ComputeDType.FLOAT32, engine.computeDType());
            assertTrue(info.intraOpThreads() > 0 && info.interOpThreads() > 0, info.describe());
            assertTrue(engine.describe().startsWith("PyTorch 2.7.1 on cpu, compute dtype float32, threads "),
                    engine.describe());
            NDArray ones = engine.manager().ones(new Shape(2));
            assertEquals(Device.cpu(), ones.getDevice());
        }
    }

    @Test
    void cudaWithoutAGpuIsAClearError() {
        assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "this machine has a CUDA device");

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> MontageEngine.start(EngineConfig.of("cuda", "float16")));

        assertTrue(e.getMessage().startsWith("device 'cuda' was requested, but "), e.getMessage());
        assertTrue(e.getMessage().contains("only cpu is available"), e.getMessage());
    }

    @Test
    void autoFallsBackToTheCpu() {
        assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "this machine has a CUDA device");

        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("auto", "float32"))) {
            assertEquals("cpu", engine.info().device());
        }
    }

    @Test
    void resolvesDevicesAgainstTheGpuCount() {
        assertEquals(Device.gpu(0), MontageEngine.resolveDevice(EngineConfig.of("auto", "auto"), 2, true));
        assertEquals(Device.cpu(), MontageEngine.resolveDevice(EngineConfig.of("auto", "auto"), 0, true));
        assertEquals(Device.gpu(1), MontageEngine.resolveDevice(EngineConfig.of("cuda:1", "auto"), 2, true));
        assertEquals(Device.cpu(), MontageEngine.resolveDevice(EngineConfig.of("cpu", "auto"), 2, true));
    }

    @Test
    void aMissingCudaDeviceNamesTheAvailableOnes() {
        IllegalStateException tooHigh = assertThrows(IllegalStateException.class,
                () -> MontageEngine.resolveDevice(EngineConfig.of("cuda:2", "auto"), 2, true));
        IllegalStateException noDriver = assertThrows(IllegalStateException.class,
                () -> MontageEngine.resolveDevice(EngineConfig.of("cuda", "auto"), 0, true));
        IllegalStateException cpuBuild = assertThrows(IllegalStateException.class,
                () -> MontageEngine.resolveDevice(EngineConfig.of("cuda:0", "auto"), 0, false));

        assertEquals("device 'cuda:2' was requested, but available are cpu and cuda:0 to cuda:1; "
                + "set device to cpu or auto", tooHigh.getMessage());
        assertTrue(noDriver.getMessage().contains("finds no CUDA device"), noDriver.getMessage());
        assertTrue(cpuBuild.getMessage().contains("CPU-only build"), cpuBuild.getMessage());
    }

    @Test
    void autoDTypeOnTheCpuFollowsTheBf16Flags() throws Exception {
        boolean bf16Cpu = MontageEngine.cpuHasBf16(Files.readString(Path.of("/proc/cpuinfo")));

        assertEquals(bf16Cpu ? ComputeDType.BFLOAT16 : ComputeDType.FLOAT32,
                MontageEngine.resolveDType(EngineConfig.of("cpu", "auto"), Device.cpu()));
        assertEquals(ComputeDType.FLOAT16, MontageEngine.resolveDType(EngineConfig.of("cpu", "fp16"), Device.cpu()));
    }

    @Test
    void readsTheBf16FlagsFromCpuInfo() {
        assertTrue(MontageEngine.cpuHasBf16("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n"));
        assertTrue(MontageEngine.cpuHasBf16("flags\t\t: fpu avx512_bf16\n"));
        assertFalse(MontageEngine.cpuHasBf16("flags\t\t: fpu avx2 avx512f\n"));
        assertFalse(MontageEngine.cpuHasBf16(""));
        assertTrue(MontageEngine.cpuHasAmx("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n"));
        assertFalse(MontageEngine.cpuHasAmx("flags\t\t: fpu avx512_bf16\n"));
        assertFalse(MontageEngine.cpuHasAmx("flags\t\t: fpu xamx_bf16\n"));
    }

    @Test
    void mklSkipsAvx512OnlyOnOtherVendorsX86CpusWithAvx512() {
        assertTrue(MontageEngine.mklSkipsAvx512("vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512f\n"));
        assertFalse(MontageEngine.mklSkipsAvx512("vendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 avx512f\n"));
        assertFalse(MontageEngine.mklSkipsAvx512("vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512cd\n"));
        // aarch64 and unreadable cpuinfo name no x86 vendor
        assertFalse(MontageEngine.mklSkipsAvx512("processor\t: 0\nFeatures\t: fp asimd sve\n"));
        assertFalse(MontageEngine.mklSkipsAvx512(""));
    }

    @Test
    void appliesConfiguredIntraOpCountsWhenNoOtherEngineIsOpen() throws Exception {
        ForkedJvm.Result result = ForkedJvm.run(IntraOpThreadsMain.class, List.of("1", "2"));
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.lines().containsAll(List.of("intra-op threads: 1", "intra-op threads: 2")),
                result.output());
    }

    @Test
    void refusesAnotherIntraOpCountWhileAnEngineIsOpenAndSharesAnAgreeingOne() {
        try (MontageEngine first = MontageEngine.start(EngineConfig.of("cpu", "float32"))) {
            int shared = first.info().intraOpThreads();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> MontageEngine.start(new EngineConfig("cpu", "float32", shared + 1, 0)));
            assertTrue(e.getMessage().startsWith("cannot use " + (shared + 1) + " intra-op threads: PyTorch's count "
                    + "is process-wide") && e.getMessage().contains("compute with " + shared), e.getMessage());
            assertEquals(shared, JniUtils.getNumThreads(), "the open engine's count is unchanged");
            try (MontageEngine agreeing = MontageEngine.start(new EngineConfig("cpu", "float32", shared, 0));
                    MontageEngine unset = MontageEngine.start(EngineConfig.of("cpu", "float32"))) {
                assertEquals(shared, agreeing.info().intraOpThreads());
                assertEquals(shared, unset.info().intraOpThreads());
            }
        }
    }

    @Test
    void theInterOpThreadCountIsFixedByItsFirstSetting() {
        // the only test in this JVM that sets the inter-op count, which PyTorch accepts once per process
        int wanted;
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "float32"))) {
            wanted = engine.info().interOpThreads() + 1;
        }
        try (MontageEngine engine = MontageEngine.start(new EngineConfig("cpu", "float32", 0, wanted))) {
            assertEquals(wanted, engine.info().interOpThreads());
        }
        MontageEngine.start(new EngineConfig("cpu", "float32", 0, wanted)).close();

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> MontageEngine.start(new EngineConfig("cpu", "float32", 0, wanted + 1)));
        assertEquals("cannot use " + (wanted + 1) + " inter-op threads: PyTorch already runs with " + wanted
                + " and fixes that count once it was set or parallel work started; "
                + "configure it in the first engine this JVM starts", e.getMessage());
    }
}
