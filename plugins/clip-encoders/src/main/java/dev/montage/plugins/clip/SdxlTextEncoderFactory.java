package dev.montage.plugins.clip;

import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.LoraTarget;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.PublishedConfiguration;
import dev.montage.api.spi.RequestCheck;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.api.spi.TextEncoder;
import dev.montage.api.spi.WeightLayout;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * SDXL's two CLIP text towers from the base model's {@code tokenizer}, {@code tokenizer_2}, {@code text_encoder}
 * and {@code text_encoder_2} folders.
 */
public final class SdxlTextEncoderFactory implements ComponentFactory<TextEncoder>, WeightLayout,
        SingleFileLayout, PublishedConfiguration, LoraTarget, RequestCheck {
    /** A self-attention's projection: the attention's path and the projection ({@code q} ... {@code out}). */
    /** The model key of the textual inversion embeddings' folder. */
    public static final String EMBEDDINGS_KEY = "embeddings";
    private static final Pattern ATTENTION_PROJECTION = Pattern.compile("(.+\\.self_attn)\\.(q|k|v|out)_proj");

    @Override
    public ComponentKind kind() {
        return ComponentKind.TEXT_ENCODER;
    }

    @Override
    public String id() {
        return "sdxl-clip";
    }

    @Override
    public String description() {
        return "SDXL text encoders: CLIP ViT-L + OpenCLIP bigG, penultimate hidden states, pooled projection";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(
                ModelFile.folder("text_encoder", "text_encoder", "a transformers CLIPTextModel folder (CLIP ViT-L)"),
                ModelFile.folder("text_encoder_2", "text_encoder_2",
                        "a transformers CLIPTextModelWithProjection folder (OpenCLIP ViT-bigG)"),
                ModelFile.folder("tokenizer", "tokenizer", "a CLIPTokenizer folder (vocab.json, merges.txt)"),
                ModelFile.folder("tokenizer_2", "tokenizer_2", "a CLIPTokenizer folder (vocab.json, merges.txt)"),
                ModelFile.folder(EMBEDDINGS_KEY, EMBEDDINGS_KEY, "textual inversion embeddings: a folder of files "
                        + "with clip_l and clip_g, each named by its file (A1111's embeddings/)").optional());
    }

    /**
     * What a weights file holding these tensors is where it is an SDXL textual inversion embedding ({@code clip_l}
     * and {@code clip_g} of the same number of vectors), for {@code montage models inspect}.
     */
    public static Optional<String> describeEmbedding(Map<String, long[]> tensors) {
        long[] first = tensors.get(TextualInversions.FIRST);
        long[] second = tensors.get(TextualInversions.SECOND);
        if (tensors.size() != 2 || first == null || second == null || first.length != 2 || second.length != 2
                || first[0] != second[0]) {
            return Optional.empty();
        }
        return Optional.of("SDXL textual inversion embedding, " + first[0] + " vectors (" + TextualInversions.FIRST
                + " " + first[1] + " wide, " + TextualInversions.SECOND + " " + second[1] + " wide); a prompt names it "
                + "by its file name when the file is in the folder of models." + EMBEDDINGS_KEY);
    }

    @Override
    public TextEncoder create(ComponentContext context) {
        ModelFolder first = context.model("text_encoder");
        ModelFolder second = context.model("text_encoder_2");
        TextualInversions inversions = TextualInversions.read(context.weightFiles(EMBEDDINGS_KEY),
                ClipConfig.text(first.config()).hiddenSize(), ClipConfig.text(second.config()).hiddenSize());
        return new SdxlTextEncoder(context.model("tokenizer"), context.model("tokenizer_2"), first, second,
                context.pipelineConfig().getBoolean("force_zeros_for_empty_prompt", true), context.manager(),
                context.kernels(), context.dtype(), context.options().get(PromptWeighting.OPTION), inversions);
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(PromptWeighting.OPTION);
    }

    /** With A1111 weighting, what {@link PromptAttention} refuses in the prompt and the negative prompt. */
    @Override
    public List<FieldError> problems(GenerationRequest request, Options options) {
        if (options.get(PromptWeighting.OPTION) == PromptWeighting.NONE) {
            return List.of();
        }
        List<FieldError> problems = new ArrayList<>();
        emphasisProblem("prompt", request.prompt()).ifPresent(problems::add);
        emphasisProblem("negativePrompt", request.negativePrompt()).ifPresent(problems::add);
        return problems;
    }

    private static Optional<FieldError> emphasisProblem(String field, String text) {
        try {
            PromptAttention.parse(text);
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.of(new FieldError(field, e.getMessage()));
        }
    }

    /**
     * Provides the concatenated hidden width of both towers, the second tower's pooled projection, the first tower's
     * pooled width for phrases and the first tokenizer's sequence length.
     */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ModelConfig first = context.model("text_encoder").config();
        ModelConfig second = context.model("text_encoder_2").config();
        ModelConfig tokenizer = context.model("tokenizer").json(TokenizerFiles.CONFIG);
        return Dimensions.builder()
                .provides(Dimensions.TEXT_HIDDEN, first.getInt("hidden_size") + second.getInt("hidden_size"),
                        Dimensions.Builder.describe(first, "hidden_size") + " + "
                                + Dimensions.Builder.describe(second, "hidden_size"))
                .provides(Dimensions.TEXT_POOLED, second, "projection_dim")
                .provides(Dimensions.PHRASE_WIDTH, first, "hidden_size")
                .provides(Dimensions.TEXT_TOKENS, tokenizer.getInt("model_max_length",
                        TokenizerConfig.DEFAULT_MAX_LENGTH), Dimensions.Builder.describe(tokenizer, "model_max_length"))
                .build();
    }

    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        return Map.of(
                "text_encoder", ClipTextModel.weightShapes(
                        ClipConfig.text(WeightLayout.require(configs, "text_encoder")), false),
                "text_encoder_2", ClipTextModel.weightShapes(
                        ClipConfig.text(WeightLayout.require(configs, "text_encoder_2")), true));
    }

    @Override
    public Set<String> singleFileKeys() {
        return Set.of("text_encoder", "text_encoder_2");
    }

    /**
     * The text encoders of a single-file SDXL checkpoint ({@code conditioner.embedders.0} and {@code .1}); the
     * tokenizers are never in such a file.
     */
    @Override
    public Optional<Map<String, MappedTensor>> view(String key, Map<String, long[]> file, ModelConfig config) {
        boolean second = key.equals("text_encoder_2");
        return OriginalClipLayout.view(second, file, ClipTextModel.weightShapes(ClipConfig.text(config), second));
    }

    @Override
    public Optional<Map<String, long[]>> storedTensors(String key, ModelConfig config) {
        boolean second = key.equals("text_encoder_2");
        return Optional.of(OriginalClipLayout.stored(second,
                ClipTextModel.weightShapes(ClipConfig.text(config), second)));
    }

    /** Montage's own vocabulary ({@link TinyClipVocabulary}) in both tokenizer folders, sized into both encoders. */
    @Override
    public void prepareRandomModel(Path folder, Map<String, Map<String, Object>> configs) throws IOException {
        TinyClipVocabulary.write(folder.resolve("tokenizer"), "<|endoftext|>");
        TinyClipVocabulary.write(folder.resolve("tokenizer_2"), "!");
        for (String encoder : new String[] {"text_encoder/config.json", "text_encoder_2/config.json"}) {
            Map<String, Object> config = configs.get(encoder);
            if (config == null) {
                throw new IllegalArgumentException("a random model without " + encoder + "; given: " + configs.keySet());
            }
            config.put("vocab_size", TinyClipVocabulary.size());
        }
    }

    /** kohya-ss names the towers' modules by their transformers paths, which the default maps. */
    @Override
    public Map<String, String> loraPrefixes() {
        return Map.of("text_encoder", "lora_te1", "text_encoder_2", "lora_te2");
    }

    /**
     * Besides each layer's path, diffusers' LoRAs before 0.21 name a self-attention's projections as its attention
     * processor did: {@code self_attn.to_q} for {@code self_attn.q_proj} ... {@code self_attn.to_out} for
     * {@code self_attn.out_proj}.
     */
    @Override
    public Map<String, String> diffusersLoraModules(String key, Set<String> tensorNames) {
        return LoraTarget.withAliases(LoraTarget.super.diffusersLoraModules(key, tensorNames),
                ATTENTION_PROJECTION, "$1.to_$2");
    }

    @Override
    public String publishedModel() {
        return "SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0)";
    }

    @Override
    public Map<String, URL> publishedFiles(String key) {
        return PublishedConfiguration.resources(SdxlTextEncoderFactory.class, "sdxl-base", singleFileKeys(), key,
                "config.json");
    }
}
