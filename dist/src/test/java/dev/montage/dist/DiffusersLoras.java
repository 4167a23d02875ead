package dev.montage.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.HalfFloats;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The golden kohya-ss LoRA written in diffusers' LoRA formats, module by module after the generator's record of the
 * module each kohya-ss name was attached to ({@code tiny-lora-kohya.json}), as diffusers' {@code save_lora_weights}
 * writes them.
 */
final class DiffusersLoras {
    /** The kohya-ss prefix of each model and diffusers' name of it. */
    private static final Map<String, String> MODELS = Map.of("lora_unet_", "unet", "lora_te1_", "text_encoder",
            "lora_te2_", "text_encoder_2");

    /** How a format writes one module. */
    enum Format {
        /** diffusers 0.24 and later (PEFT): {@code lora_A} = down, {@code lora_B} = up, the alpha kept. */
        PEFT {
            @Override
            void add(Writer out, Module m) {
                out.add(m.diffusers() + ".lora_A.weight", m.down());
                out.add(m.diffusers() + ".lora_B.weight", m.up());
                out.add(m.diffusers() + ".alpha", m.alpha());
            }
        },
        /**
         * diffusers 0.21 to 0.23: {@code lora.down}/{@code lora.up} in the UNet, {@code lora_linear_layer} in the text
         * encoders; no alpha, so {@code up} carries alpha / rank (a power of two here, so exactly).
         */
        DIFFUSERS_0_23 {
            @Override
            void add(Writer out, Module m) {
                String layer = m.model().equals("unet") ? ".lora" : ".lora_linear_layer";
                out.add(m.diffusers() + layer + ".down.weight", m.down());
                out.add(m.diffusers() + layer + ".up.weight", m.up().times(m.alphaOverRank()));
            }
        },
        /**
         * As {@link #DIFFUSERS_0_23}, but the UNet's self-attentions and the first text encoder's attentions in
         * diffusers' older attention-processor spelling ({@code attn1.processor.to_q_lora.down.weight},
         * {@code self_attn.to_out_lora.up.weight}).
         */
        ATTENTION_PROCESSORS {
            @Override
            void add(Writer out, Module m) {
                String path = m.diffusers();
                String processor = path.matches(".*\\.attn1\\.to_(q|k|v|out\\.0)")
                        ? path.replaceFirst("\\.attn1\\.(to_[a-z]+)(\\.0)?$", ".attn1.processor.$1_lora")
                        : m.model().equals("text_encoder") && path.matches(".*\\.self_attn\\.[a-z]+_proj")
                                ? path.replaceFirst("\\.self_attn\\.([a-z]+)_proj$", ".self_attn.to_$1_lora") : null;
                if (processor == null) {
                    DIFFUSERS_0_23.add(out, m);
                } else {
                    out.add(processor + ".down.weight", m.down());
                    out.add(processor + ".up.weight", m.up().times(m.alphaOverRank()));
                }
            }
        };

        abstract void add(Writer out, Module m);
    }

    /** A tensor's values in float32, written in a chosen dtype. */
    record Tensor(long[] shape, float[] values) {
        static Tensor of(RawTensor raw) {
            return new Tensor(raw.shape(), raw.toFloatArray());
        }

        Tensor times(float factor) {
            float[] scaled = values.clone();
            for (int i = 0; i < scaled.length; i++) {
                scaled[i] *= factor;
            }
            return new Tensor(shape, scaled);
        }
    }

    /**
     * One module of the golden LoRA.
     *
     * @param model     diffusers' name of the model it adapts
     * @param diffusers its diffusers name, {@code <model>.<module path>}
     */
    record Module(String kohya, String model, String diffusers, Tensor down, Tensor up, Tensor alpha) {
        float alphaOverRank() {
            return alpha.values()[0] / down.shape()[0];
        }
    }

    /** Writes tensors in one dtype. */
    record Writer(SafetensorsWriter file, TensorDType dtype) {
        void add(String name, Tensor t) {
            ByteBuffer data = ByteBuffer.allocate(t.values().length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t.values()) {
                switch (dtype) {
                    case F32 -> data.putFloat(v);
                    case F16 -> data.putShort(HalfFloats.fromFloat(v));
                    case BF16 -> data.putShort(HalfFloats.floatToBf16(v));
                    default -> throw new IllegalArgumentException("no test LoRA in " + dtype);
                }
            }
            file.add(name, dtype, t.shape(), data.flip());
        }
    }

    private DiffusersLoras() {
    }

    static Path kohya() {
        return Golden.dir().resolve("lora/tiny-lora-kohya.safetensors").toAbsolutePath().normalize();
    }

    /** The golden LoRA's modules by kohya-ss name. */
    static Map<String, Module> modules() throws IOException {
        JsonNode paths = new ObjectMapper().readTree(Golden.dir().resolve("lora/tiny-lora-kohya.json").toFile())
                .get("kohya_name_to_module");
        Map<String, Module> modules = new LinkedHashMap<>();
        try (SafetensorsReader golden = SafetensorsReader.open(kohya())) {
            paths.fields().forEachRemaining(e -> {
                String name = e.getKey();
                String model = MODELS.entrySet().stream().filter(p -> name.startsWith(p.getKey())).findFirst()
                        .orElseThrow().getValue();
                modules.put(name, new Module(name, model, model + "." + e.getValue().asText(),
                        Tensor.of(golden.tensor(name + ".lora_down.weight")),
                        Tensor.of(golden.tensor(name + ".lora_up.weight")), Tensor.of(golden.tensor(name + ".alpha"))));
            });
        }
        return modules;
    }

    /** The golden LoRA's modules that {@code which} keeps, in a format and dtype. */
    static Path write(Path file, Format format, TensorDType dtype, Predicate<Module> which) throws IOException {
        Writer out = new Writer(new SafetensorsWriter(), dtype);
        for (Module m : modules().values()) {
            if (which.test(m)) {
                format.add(out, m);
            }
        }
        out.file().write(file);
        return file;
    }

    static Path write(Path file, Format format) throws IOException {
        return write(file, format, TensorDType.F32, m -> true);
    }

    /** The golden kohya-ss LoRA's modules that {@code which} keeps, in a dtype. */
    static Path kohya(Path file, TensorDType dtype, Predicate<Module> which) throws IOException {
        Writer out = new Writer(new SafetensorsWriter(), dtype);
        for (Module m : modules().values()) {
            if (which.test(m)) {
                out.add(m.kohya() + ".lora_down.weight", m.down());
                out.add(m.kohya() + ".lora_up.weight", m.up());
                out.add(m.kohya() + ".alpha", m.alpha());
            }
        }
        out.file().write(file);
        return file;
    }
}
