package dev.montage.runtime.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.engine.StandardCapabilities;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtEngine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.cuda.CudaUtils;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The started compute engine: DJL's PyTorch engine bound to one device and one compute dtype, with the root
 * {@link NDManager} for that device and the {@link Kernels} model code uses.
 *
 * <p>Starting never downloads anything: {@code ai.djl.offline} is set to {@code true} unless the JVM was given
 * a value, so the native library must come from the class path ({@code ai.djl.pytorch:pytorch-native-cpu}) or from
 * an installed libtorch that {@code PYTORCH_LIBRARY_PATH} names. Thread counts are process-wide in PyTorch, so
 * engines open at the same time share them: an engine that leaves a count at 0 takes the one in use, and one that
 * asks for another intra-op count than the open engines compute with is refused rather than changing theirs. The
 * inter-op count is fixed by its first setting in a JVM.
 */
public final class MontageEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MontageEngine.class);
    private static final String OFFLINE_PROPERTY = "ai.djl.offline";
    /** DJL reads an installed libtorch's lib folder from this variable (or the system property of that name). */
    private static final String LIBRARY_PATH_VARIABLE = "PYTORCH_LIBRARY_PATH";
    private static final Path CPUINFO = Path.of("/proc/cpuinfo");
    /** bf16 tensor arithmetic on the GPU needs compute capability 8.0 (Ampere) or later. */
    private static final int MIN_BF16_COMPUTE_CAPABILITY = 80;
    /** Engines started and not yet closed; guarded by the class lock. */
    private static final Set<MontageEngine> OPEN = new HashSet<>();

    private final EngineInfo info;
    private final Device device;
    private final NDManager manager;
    private final TorchScriptKernels kernels;

    private MontageEngine(EngineInfo info, Device device, NDManager manager) {
        this.info = info;
        this.device = device;
        this.manager = manager;
        this.kernels = new TorchScriptKernels(manager);
    }

    /**
     * Loads PyTorch (once per JVM) and binds an engine to the configured device and dtype.
     *
     * @throws IllegalStateException when the configured CUDA device does not exist, naming what does, when
     *                               another intra-op thread count is configured than open engines use, or when
     *                               the inter-op thread count can no longer be changed
     */
    public static synchronized MontageEngine start(EngineConfig config) {
        // read by DJL when it first resolves the native library, so it must be in place before the lookup
        if (System.getProperty(OFFLINE_PROPERTY) == null) {
            System.setProperty(OFFLINE_PROPERTY, "true");
        }
        NativeMemory.keepFreedBlocks();
        Engine engine = pytorch();
        applyThreads(config);
        Device device = resolveDevice(config, engine.getGpuCount(), engine.hasCapability(StandardCapabilities.CUDA));
        ComputeDType dtype = resolveDType(config, device);
        EngineInfo info = new EngineInfo(engine.getEngineName(), engine.getVersion(), deviceName(device), dtype,
                JniUtils.getNumThreads(), JniUtils.getNumInteropThreads());
        MontageEngine started = new MontageEngine(info, device, engine.newBaseManager(device));
        OPEN.add(started);
        LOG.info("Compute engine: {}", info.describe());
        return started;
    }

    /** DJL's PyTorch engine, or an error that says where its native library may come from. */
    private static Engine pytorch() {
        try {
            return Engine.getEngine(PtEngine.ENGINE_NAME);
        } catch (EngineException e) {
            throw new IllegalStateException(nativeLibraryMissing(e, System.getenv(LIBRARY_PATH_VARIABLE),
                    Boolean.parseBoolean(System.getProperty(OFFLINE_PROPERTY))), e);
        }
    }

    /**
     * What a failed start of DJL's PyTorch engine says to the user: DJL's reason, then where a native library can
     * come from given how the process was started.
     *
     * @param libraryPath the value of {@code PYTORCH_LIBRARY_PATH}, or null
     * @param offline     whether DJL may not download
     */
    static String nativeLibraryMissing(EngineException e, String libraryPath, boolean offline) {
        StringBuilder why = new StringBuilder(e.getMessage());
        for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
            why.append(": ").append(cause.getMessage());
        }
        // a CUDA libtorch links libcuda.so.1, which comes with the NVIDIA driver, not with libtorch
        String driver = why.indexOf("libcuda.so") >= 0
                ? "libcuda.so.1 is the NVIDIA driver's library: a CUDA build of libtorch loads only where the driver "
                        + "is installed (nvidia-smi lists the GPU); on a machine without one, use the CPU build; "
                : "";
        String where = libraryPath != null
                ? LIBRARY_PATH_VARIABLE + " names " + libraryPath + ", which must be the lib folder of a libtorch "
                        + "(libtorch.so) of the version PYTORCH_VERSION names, with DJL's JNI for it"
                : offline
                        ? "no native library is on the class path (the CPU one is ai.djl.pytorch:pytorch-native-cpu; "
                                + "a distribution built with -Pcuda has none), " + LIBRARY_PATH_VARIABLE + " names "
                                + "no installed libtorch, and downloading is off (ai.djl.offline=true; "
                                + "-Dai.djl.offline=false in JAVA_OPTS lets DJL download the build PYTORCH_FLAVOR "
                                + "names)"
                        : "DJL could not download the build PYTORCH_FLAVOR names";
        return "PyTorch's native library could not be loaded (" + why + "): " + driver + where
                + "; README: Running on NVIDIA GPUs";
    }

    /** Engine, device, dtype and threads. */
    public EngineInfo info() {
        return info;
    }

    /** {@link EngineInfo#describe()}. */
    public String describe() {
        return info.describe();
    }

    /** The device every array of this engine lives on. */
    public Device device() {
        return device;
    }

    /** The dtype model code computes in. */
    public ComputeDType computeDType() {
        return info.computeDType();
    }

    /** The root manager on {@link #device()}; closed with the engine. */
    public NDManager manager() {
        return manager;
    }

    /** The fused operations for this engine's arrays. */
    public Kernels kernels() {
        return kernels;
    }

    /** Releases the kernels and every array still attached to {@link #manager()}. */
    @Override
    public void close() {
        synchronized (MontageEngine.class) {
            OPEN.remove(this);
        }
        kernels.close();
        manager.close();
    }

    /**
     * @param gpuCount  CUDA devices PyTorch can use
     * @param cudaBuild whether the loaded native library was built with CUDA
     */
    static Device resolveDevice(EngineConfig config, int gpuCount, boolean cudaBuild) {
        switch (config.device()) {
            case EngineConfig.AUTO:
                return gpuCount > 0 ? Device.gpu(0) : Device.cpu();
            case "cpu":
                return Device.cpu();
            default:
                int index = config.cudaIndex();
                if (index < gpuCount) {
                    return Device.gpu(index);
                }
                String why = !cudaBuild
                        ? "the PyTorch native library on the class path is a CPU-only build, so only cpu is available"
                        : gpuCount == 0
                        ? "PyTorch finds no CUDA device (no GPU or no driver), so only cpu is available"
                        : "available are cpu and cuda:0 to cuda:" + (gpuCount - 1);
                throw new IllegalStateException("device '" + config.device() + "' was requested, but " + why
                        + "; set device to cpu or auto");
        }
    }

    /** {@code auto}: bf16 where the hardware computes it natively, else float16 on GPUs and float32 on CPUs. */
    static ComputeDType resolveDType(EngineConfig config, Device device) {
        if (!EngineConfig.AUTO.equals(config.dtype())) {
            return ComputeDType.parse(config.dtype());
        }
        if (device.isGpu()) {
            return gpuHasBf16(device.getDeviceId()) ? ComputeDType.BFLOAT16 : ComputeDType.FLOAT16;
        }
        return cpuHasBf16(readCpuInfo()) ? ComputeDType.BFLOAT16 : ComputeDType.FLOAT32;
    }

    /** Whether {@code /proc/cpuinfo} text lists AMX-BF16 or AVX512-BF16, which oneDNN uses for bf16 matmul/conv. */
    static boolean cpuHasBf16(String cpuInfo) {
        return cpuHasFlag(cpuInfo, "amx_bf16") || cpuHasFlag(cpuInfo, "avx512_bf16");
    }

    /**
     * Whether {@code /proc/cpuinfo} text lists AMX-BF16: PyTorch's fused CPU attention multiplies bf16 with it at the
     * matrix rate, and in float32 without it.
     */
    static boolean cpuHasAmx(String cpuInfo) {
        return cpuHasFlag(cpuInfo, "amx_bf16");
    }

    /**
     * Whether {@code /proc/cpuinfo} text describes an x86 CPU with AVX-512 from another vendor than Intel: MKL picks its
     * code by vendor and runs AVX2 there (its {@code sgemm} reached 0.12–0.17 TFLOP/s on the AMD Zen 5 of
     * BENCHMARKS.md, oneDNN's inner product 0.20–0.36), while oneDNN picks by instruction set.
     */
    static boolean mklSkipsAvx512(String cpuInfo) {
        String vendor = cpuInfoValue(cpuInfo, "vendor_id");
        return vendor != null && !vendor.equals("GenuineIntel") && cpuHasFlag(cpuInfo, "avx512f");
    }

    private static boolean cpuHasFlag(String cpuInfo, String flag) {
        String flags = cpuInfoValue(cpuInfo, "flags");
        return flags != null && (" " + flags + " ").contains(" " + flag + " ");
    }

    /** The value of the first {@code key : value} line of {@code /proc/cpuinfo} text, or null. */
    private static String cpuInfoValue(String cpuInfo, String key) {
        for (String line : cpuInfo.split("\n")) {
            if (line.startsWith(key)) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return null;
    }

    static String readCpuInfo() {
        try {
            return Files.readString(CPUINFO);
        } catch (IOException | SecurityException e) {
            // not Linux, or hidden: without evidence of bf16 hardware float32 is the safe choice
            return "";
        }
    }

    private static boolean gpuHasBf16(int deviceId) {
        try {
            return Integer.parseInt(CudaUtils.getComputeCapability(deviceId).trim()) >= MIN_BF16_COMPUTE_CAPABILITY;
        } catch (RuntimeException e) {
            LOG.warn("Cannot read the compute capability of cuda:{}, choosing float16", deviceId, e);
            return false;
        }
    }

    private static void applyThreads(EngineConfig config) {
        int intra = config.intraOpThreads();
        int currentIntra = JniUtils.getNumThreads();
        if (intra > 0 && currentIntra != intra) {
            if (!OPEN.isEmpty()) {
                throw new IllegalStateException("cannot use " + intra + " intra-op threads: PyTorch's count is "
                        + "process-wide and " + OPEN.size() + " open engine(s) of this JVM compute with "
                        + currentIntra + " (" + OPEN.iterator().next().describe() + "); configure " + currentIntra
                        + ", or 0 to share the count in use, or close the open engines first");
            }
            JniUtils.setNumThreads(intra);
        }
        int inter = config.interOpThreads();
        int currentInter = JniUtils.getNumInteropThreads();
        if (inter > 0 && currentInter != inter) {
            try {
                JniUtils.setNumInteropThreads(inter);
            } catch (EngineException e) {
                throw new IllegalStateException("cannot use " + inter + " inter-op threads: PyTorch already runs with "
                        + currentInter + " and fixes that count once it was set or parallel work started; "
                        + "configure it in the first engine this JVM starts", e);
            }
        }
    }

    private static String deviceName(Device device) {
        return device.isGpu() ? "cuda:" + device.getDeviceId() : device.getDeviceType().toLowerCase(Locale.ROOT);
    }
}
