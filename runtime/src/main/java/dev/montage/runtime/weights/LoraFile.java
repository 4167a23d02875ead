package dev.montage.runtime.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.montage.api.ConfigurationException;
import dev.montage.api.host.ModelWeights;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * A LoRA: per module a {@code down} factor ([rank, in] or, for a convolution, [rank, in, kh, kw]), an {@code up}
 * factor ([out, rank] or [out, rank, 1, 1]) and an optional 0-dim {@code <module>.alpha}, which is the rank where
 * absent (the change is then scaled by 1). The factors' tensor names are those of the kohya-ss format or of one of
 * diffusers' ({@link Spelling}), recognised tensor by tensor, so a file may mix them; the module name is the tensor
 * name before its factor's suffix ({@code lora_unet_input_blocks_4_1_proj_in}, {@code unet.down_blocks.1.attentions.0
 * .proj_in}), which the pipeline matches against its models' layers.
 */
public final class LoraFile {
    private static final String ALPHA = ".alpha";

    /** How a format names a module's two factors: the suffixes after the module name. */
    public enum Spelling {
        /** kohya-ss sd-scripts. */
        KOHYA("kohya-ss", ".lora_down.weight", ".lora_up.weight"),
        /** diffusers' {@code save_lora_weights} with the PEFT backend (0.24 and later): {@code lora_A = down}. */
        PEFT("diffusers PEFT", ".lora_A.weight", ".lora_B.weight"),
        /** diffusers 0.21 to 0.23, {@code LoRACompatibleLinear}/{@code Conv} layers. */
        DIFFUSERS("diffusers 0.21-0.23", ".lora.down.weight", ".lora.up.weight"),
        /** diffusers 0.21 to 0.23, the patched text-encoder projections. */
        DIFFUSERS_TEXT("diffusers 0.21-0.23", ".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"),
        /**
         * diffusers' attention processors before 0.21 ({@code attn1.processor.to_q_lora}): the module name ends
         * with the processor's projection ({@code attn1.processor.to_q}), which components name as an alias.
         */
        ATTENTION_PROCESSOR("diffusers attention-processor", "_lora.down.weight", "_lora.up.weight");

        private final String format;
        private final String down;
        private final String up;

        Spelling(String format, String down, String up) {
            this.format = format;
            this.down = down;
            this.up = up;
        }

        /** The format's name, for messages. */
        public String format() {
            return format;
        }

        String down() {
            return down;
        }

        String up() {
            return up;
        }

        private static String expected() {
            return Arrays.stream(values()).map(s -> "<module>" + s.down + " and <module>" + s.up + " ("
                    + s.format + ")").collect(Collectors.joining(", "));
        }
    }

    /**
     * The tensors of one module, known from the tensor names alone.
     *
     * @param name     the module name, e.g. {@code lora_unet_input_blocks_4_1_proj_in} or
     *                 {@code unet.down_blocks.1.attentions.0.proj_in}
     * @param spelling how its factors are named
     */
    public record Factors(String name, Spelling spelling) {
        public String down() {
            return name + spelling.down();
        }

        public String up() {
            return name + spelling.up();
        }

        public String alpha() {
            return name + ALPHA;
        }
    }

    /**
     * One module: the low-rank factors of the change of one layer's weight.
     *
     * @param factors its tensors
     * @param down    the shape of {@code down}
     * @param up      the shape of {@code up}
     * @param alpha   the module's alpha (the delta is scaled by alpha / rank)
     */
    public record Module(Factors factors, long[] down, long[] up, double alpha) {
        public String name() {
            return factors.name();
        }

        public long rank() {
            return down[0];
        }

        /** The shape of the weight this module changes: [out, in] or [out, in, kh, kw]. */
        public long[] target() {
            long[] shape = down.clone();
            shape[0] = up[0];
            return shape;
        }
    }

    private final ModelWeights weights;
    private final Map<String, Module> modules;

    /**
     * Reads the module names, shapes and alphas (no factor is read until {@link #delta}).
     *
     * @param weights the file's tensors
     * @param manager where the alphas are read, a scope the caller closes
     * @throws ConfigurationException naming the file and what it holds when it is no LoRA, the tensor that is not
     *     a LoRA factor, a module that lacks a factor, or a module whose factors' ranks or shapes disagree
     */
    public LoraFile(ModelWeights weights, NDManager manager) {
        this.weights = weights;
        Map<String, Module> found = new LinkedHashMap<>();
        for (Factors f : modules(weights.source(), weights.names()).values()) {
            found.put(f.name(), module(f, manager));
        }
        this.modules = Collections.unmodifiableMap(found);
    }

    /** Whether some tensor is named as a LoRA factor. */
    public static boolean holdsFactors(Collection<String> names) {
        return names.stream().anyMatch(n -> spelling(n).isPresent());
    }

    /**
     * The modules of a LoRA from its tensor names alone, by module name in name order.
     *
     * @param source the file, for messages
     * @throws ConfigurationException naming the file and what it holds when no tensor is a LoRA factor, a tensor
     *     that is neither a factor nor an alpha, or a module that lacks a factor
     */
    public static Map<String, Factors> modules(String source, Collection<String> names) {
        if (!holdsFactors(names)) {
            throw new ConfigurationException(source + " is not a LoRA: none of its " + names.size()
                    + " tensors is a LoRA factor (expected " + Spelling.expected() + "); its tensors are under "
                    + TensorNames.prefixes(names));
        }
        Map<String, Factors> found = new TreeMap<>();
        for (String tensor : new TreeSet<>(names)) {
            spelling(tensor).ifPresent(s -> {
                String name = tensor.substring(0, tensor.length() - (tensor.endsWith(s.down()) ? s.down() : s.up())
                        .length());
                Factors previous = found.putIfAbsent(name, new Factors(name, s));
                if (previous != null && previous.spelling() != s) {
                    throw new ConfigurationException(source + ": LoRA module '" + name + "' has factors spelled "
                            + previous.down() + " and " + tensor + "; expected one format per module");
                }
            });
        }
        for (String tensor : names) {
            if (spelling(tensor).isPresent()) {
                continue;
            }
            if (!tensor.endsWith(ALPHA)) {
                throw new ConfigurationException(source + ": tensor '" + tensor + "' is not of a LoRA (expected "
                        + Spelling.expected() + ", and <module>" + ALPHA + ")");
            }
            String name = tensor.substring(0, tensor.length() - ALPHA.length());
            if (!found.containsKey(name)) {
                throw new ConfigurationException(source + ": LoRA alpha '" + tensor + "' belongs to no module; "
                        + "expected its factors beside it (e.g. " + name + Spelling.KOHYA.down() + ")");
            }
        }
        for (Factors f : found.values()) {
            for (String factor : List.of(f.down(), f.up())) {
                if (!names.contains(factor)) {
                    throw new ConfigurationException(source + ": LoRA module '" + f.name() + "' has no " + factor);
                }
            }
        }
        return found;
    }

    /** The spelling whose down or up suffix a tensor name ends with. */
    private static Optional<Spelling> spelling(String tensor) {
        return Arrays.stream(Spelling.values()).filter(s -> tensor.endsWith(s.down()) || tensor.endsWith(s.up()))
                .findFirst();
    }

    private Module module(Factors f, NDManager manager) {
        long[] down = weights.shape(f.down());
        long[] up = weights.shape(f.up());
        boolean conv = down.length == 4 && up.length == 4 && up[2] == 1 && up[3] == 1;
        if (!conv && (down.length != 2 || up.length != 2)) {
            throw new ConfigurationException(weights.source() + ": LoRA module '" + f.name() + "' has down "
                    + Arrays.toString(down) + " and up " + Arrays.toString(up) + "; expected [rank, in] and "
                    + "[out, rank], or [rank, in, kh, kw] and [out, rank, 1, 1]");
        }
        if (up[1] != down[0]) {
            throw new ConfigurationException(weights.source() + ": LoRA module '" + f.name() + "' has rank "
                    + down[0] + " in " + f.down() + " " + Arrays.toString(down) + " but " + up[1] + " in " + f.up()
                    + " " + Arrays.toString(up) + "; expected the same rank in both");
        }
        double alpha = weights.contains(f.alpha())
                ? weights.get(f.alpha(), manager).toType(DataType.FLOAT32, false).getFloat() : down[0];
        return new Module(f, down, up, alpha);
    }

    /** The file, for messages. */
    public String source() {
        return weights.source();
    }

    /** The modules by name, in name order. */
    public Map<String, Module> modules() {
        return modules;
    }

    /** The formats its modules are written in, for messages, e.g. {@code kohya-ss}. */
    public static String formats(Collection<Factors> modules) {
        return modules.stream().map(f -> f.spelling().format()).distinct().sorted()
                .collect(Collectors.joining(" and "));
    }

    /**
     * The change {@code scale * alpha / rank * up @ down} of a module's weight, in the weight's shape.
     *
     * @param manager where the change and its intermediates are attached
     */
    public NDArray delta(String module, double scale, NDManager manager) {
        Module m = modules.get(module);
        NDArray down = weights.get(m.factors().down(), manager);
        NDArray up = weights.get(m.factors().up(), manager);
        return up.reshape(m.up()[0], m.rank()).matMul(down.reshape(m.rank(), -1))
                .mul(scale * m.alpha() / m.rank()).reshape(m.target());
    }
}
