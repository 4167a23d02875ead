package dev.montage.plugins.msdiffusion;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.AttentionWeightLayout;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.nn.IpProjections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's multi-subject cross-attention, with the {@code to_k_ip}/{@code to_v_ip} projections of the
 * {@code ms_adapter} checkpoint ({@code ms_adapter.bin}, dictionary {@code ms_adapter}) bound to the attention layers
 * of the denoising model it serves.
 */
public final class MultiSubjectAttentionFactory implements ComponentFactory<AttentionProcessor>, AttentionWeightLayout {
    /** The checkpoint key of the adapter weights. */
    public static final String CHECKPOINT_KEY = "ms_adapter";
    /** The dictionary of the checkpoint that holds the attention processors' weights. */
    static final String PROCESSORS = "ms_adapter";

    @Override
    public ComponentKind kind() {
        return ComponentKind.ATTENTION_PROCESSOR;
    }

    @Override
    public String id() {
        return "ms-diffusion";
    }

    @Override
    public String description() {
        return "MS-Diffusion multi-subject cross-attention: text attention + box-masked attention to subject tokens";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.file(CHECKPOINT_KEY, "ms_adapter.bin",
                "MS-Diffusion's ms_adapter.bin (torch checkpoint)"));
    }

    /**
     * @throws IllegalArgumentException naming the checkpoint when it has no {@code ms_adapter} entries or they do
     *     not fit the denoising model's attention layers
     */
    @Override
    public AttentionProcessor create(ComponentContext context) {
        List<AttentionLayerSpec> layers = context.attentionLayers();
        ModelWeights checkpoint = context.checkpoint(CHECKPOINT_KEY);
        if (checkpoint.names().stream().noneMatch(n -> n.startsWith(PROCESSORS + "."))) {
            throw new IllegalArgumentException(checkpoint.source() + " has no '" + PROCESSORS + ".*' tensors; "
                    + "expected the ms_adapter.bin written by MSAdapter.save_to_checkpoint");
        }
        return MultiSubjectAttention.bind(checkpoint.prefixed(PROCESSORS), layers, context.manager());
    }

    /** {@code ms_adapter}: the {@code ms_adapter.<i>.to_k_ip/to_v_ip.weight} entries (the resampler adds the rest). */
    @Override
    public Map<String, Map<String, long[]>> weightShapes(List<AttentionLayerSpec> layers) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        IpProjections.weightShapes(layers)
                .forEach((name, shape) -> shapes.put(PROCESSORS + "." + name, shape));
        return Map.of(CHECKPOINT_KEY, shapes);
    }
}
