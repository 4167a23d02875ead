package dev.montage.runtime.weights;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** How messages summarise the tensor names of a file whose layout is not known. */
public final class TensorNames {
    private TensorNames() {
    }

    /**
     * Where the tensors are: each first two name parts with how many tensors are under them, e.g.
     * {@code first_stage_model.decoder.* (120), model.diffusion_model.* (1680)}; the first two parts and not the first
     * alone, since layouts of one model differ below a common root.
     */
    public static String prefixes(Collection<String> names) {
        Map<String, Integer> counts = new TreeMap<>();
        for (String n : names) {
            String[] parts = n.split("\\.", 3);
            counts.merge(parts.length > 2 ? parts[0] + "." + parts[1] : parts[0], 1, Integer::sum);
        }
        List<String> out = new ArrayList<>();
        counts.forEach((p, c) -> out.add(p + ".* (" + c + ")"));
        return String.join(", ", out);
    }
}
