package dev.montage.plugins.ipadapter;

import dev.montage.api.host.ComponentContext;
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
 * IP-Adapter's decoupled cross-attention, with the {@code to_k_ip}/{@code to_v_ip} projections of the
 * {@code ip_adapter} checkpoint bound to the attention layers of the denoising model it serves.
 */
public final class IpAdapterAttentionFactory implements ComponentFactory<AttentionProcessor>, AttentionWeightLayout {

    @Override
    public ComponentKind kind() {
        return ComponentKind.ATTENTION_PROCESSOR;
    }

    @Override
    public String id() {
        return "ip-adapter";
    }

    @Override
    public String description() {
        return "IP-Adapter decoupled cross-attention: text attention + scale x attention to the image tokens";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(IpAdapterCheckpoint.FILE);
    }

    /**
     * @throws IllegalArgumentException naming the checkpoint when its projections do not fit the denoising model's
     *     attention layers
     */
    @Override
    public AttentionProcessor create(ComponentContext context) {
        IpAdapterCheckpoint checkpoint = IpAdapterCheckpoint.of(context.checkpoint(IpAdapterCheckpoint.KEY));
        return new IpAttention(IpProjections.bind(checkpoint.adapter(), context.attentionLayers(), context.manager(),
                IpAdapterCheckpoint.KEY));
    }

    /** {@code ip_adapter}: the {@code ip_adapter.<i>.to_k_ip/to_v_ip.weight} entries. */
    @Override
    public Map<String, Map<String, long[]>> weightShapes(List<AttentionLayerSpec> layers) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        IpProjections.weightShapes(layers).forEach((name, shape) -> shapes.put("ip_adapter." + name, shape));
        return Map.of(IpAdapterCheckpoint.KEY, shapes);
    }
}
