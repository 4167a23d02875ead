package dev.montage.plugins.ipadapter;

import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ModelFile;
import java.util.Set;
import java.util.TreeSet;

/**
 * An IP-Adapter checkpoint: the official {@code torch.save} of {@code {"image_proj": ..., "ip_adapter": ...}} or the
 * community's flattened {@code .safetensors} with the same dotted names ({@code image_proj.proj.weight},
 * {@code ip_adapter.1.to_k_ip.weight}); the host reads both into the same names.
 *
 * @param imageProj the image projection's tensors
 * @param adapter   the per-layer key and value projections
 */
record IpAdapterCheckpoint(ModelWeights imageProj, ModelWeights adapter) {
    /** The model key of the checkpoint. */
    static final String KEY = "ip_adapter";
    static final ModelFile FILE = ModelFile.file(KEY, "ip-adapter.bin",
            "an IP-Adapter checkpoint (ip-adapter_sdxl.bin or its .safetensors)");
    private static final String IMAGE_PROJ = "image_proj";
    private static final String PROJECTIONS = "ip_adapter";

    /**
     * @throws IllegalArgumentException naming the checkpoint when it has other top-level entries than
     *     {@code image_proj} and {@code ip_adapter}, or lacks one
     */
    static IpAdapterCheckpoint of(ModelWeights checkpoint) {
        Set<String> roots = new TreeSet<>();
        checkpoint.names().forEach(n -> roots.add(n.contains(".") ? n.substring(0, n.indexOf('.')) : n));
        if (!roots.equals(Set.of(IMAGE_PROJ, PROJECTIONS))) {
            throw new IllegalArgumentException(checkpoint.source() + " holds " + roots + "; an IP-Adapter checkpoint "
                    + "holds exactly [" + IMAGE_PROJ + ", " + PROJECTIONS + "] (IPAdapter.load_ip_adapter's layout)");
        }
        return new IpAdapterCheckpoint(checkpoint.prefixed(IMAGE_PROJ), checkpoint.prefixed(PROJECTIONS));
    }
}
