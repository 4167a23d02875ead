package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.testing.TestFactory;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The runtime assembles whatever a recipe names: a model family it has never heard of, made of fake components, is
 * built and generates, with every slot, attention layer and default taken from its recipe.
 */
class RecipeAssemblyTest {
    private static final Recipe TOY = new Recipe(Map.of(
            ComponentKind.TEXT_ENCODER, "toy-text",
            ComponentKind.IMAGE_ENCODER, "toy-image",
            ComponentKind.SUBJECT_RESAMPLER, "toy-subjects",
            ComponentKind.DENOISING_MODEL, "toy-denoiser",
            ComponentKind.LATENT_DECODER, "toy-decoder",
            ComponentKind.SCHEDULER, "toy-steps"),
            Map.of(".*", "toy-attention"), Map.of(".*\\.cross", "toy-subject-attention"), "toy-control");

    private static final List<AttentionLayerSpec> LAYERS = List.of(new AttentionLayerSpec("block.self", 8, 1, 0),
            new AttentionLayerSpec("block.cross", 8, 1, 8));

    /** The processor each layer of the last toy denoiser got, by layer. */
    private final Map<String, AttentionProcessor> installed = new TreeMap<>();

    @Test
    void aPipelineIsAssembledFromAFakeRecipeAndGenerates() {
        ComponentRegistry registry = toyRegistry();
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry,
                new ModelPaths(Optional.empty(), Map.of(), Optional.empty())).withoutSubjects().build()) {
            assertEquals(Map.of("block.cross", "toy-attention", "block.self", "toy-attention"), names());
            assertEquals(LAYERS, ((ToyAttention) installed.get("block.cross")).layers,
                    "a processor is created with the attention layers of the denoiser it serves");
            GenerationResult result = assembled.pipeline().generate(GenerationRequest.builder("a toy").size(16, 16)
                    .steps(2).guidanceScale(1).build(), ProgressListener.NONE);
            assertEquals(16, result.images().get(0).getWidth());
            assertEquals("toy-denoiser", result.parameters().get("component.denoising_model"));
            assertEquals("toy-steps", result.parameters().get("scheduler"));
        }
    }

    @Test
    void theRecipesSubjectAttentionServesItsLayersUnlessReplaced() {
        ComponentRegistry registry = toyRegistry();
        ModelPaths none = new ModelPaths(Optional.empty(), Map.of(), Optional.empty());
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry, none)
                .set(ComponentKind.IMAGE_ENCODER, (ImageEncoder) (m, pictures, features) -> m.zeros(new Shape(1, 1, 8)))
                .set(ComponentKind.SUBJECT_RESAMPLER, new ToySubjects()).build()) {
            assertEquals(Map.of("block.cross", "toy-subject-attention", "block.self", "toy-attention"), names());
        }
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry, none)
                .set(ComponentKind.IMAGE_ENCODER, (ImageEncoder) (m, pictures, features) -> m.zeros(new Shape(1, 1, 8)))
                .set(ComponentKind.SUBJECT_RESAMPLER, new ToySubjects())
                .subjectAttention("toy-attention").attention(".*\\.self", "toy-subject-attention").build()) {
            assertEquals(Map.of("block.cross", "toy-attention", "block.self", "toy-subject-attention"), names());
        }
    }

    @Test
    void withSeveralRecipesOneMustBeNamed() {
        ComponentRegistry registry = toyRegistry();
        registry.register(factory(ComponentKind.RECIPE, "other", () -> TOY), "test");
        ModelPaths none = new ModelPaths(Optional.empty(), Map.of(), Optional.empty());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PipelineBuilder(TestEngine.engine(), registry, none).build());
        assertTrue(e.getMessage().contains("recipes [other, toy] are installed"), e.getMessage());
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry, none).recipe("toy")
                .withoutSubjects().build()) {
            assertEquals(2, names().size());
        }
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> new PipelineBuilder(TestEngine.engine(), registry, none).recipe("tyo").build());
        assertTrue(unknown.getMessage().contains("did you mean toy"), unknown.getMessage());
    }

    @Test
    void aComponentThatKeepsArraysOfAGenerationInItsWeightsManagerFailsTheGeneration() {
        ComponentRegistry registry = toyRegistry();
        registry.register(TestFactory.of(ComponentKind.DENOISING_MODEL, "toy-keeper", context -> {
            NDManager weights = context.manager();
            weights.ones(new Shape(4));
            return new ToyDenoiser(installed) {
                @Override
                public NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
                    // a per-step array attached to the component's own manager: it would outlive the generation
                    weights.zeros(new Shape(1));
                    return super.predictNoise(manager, input, ctx);
                }
            };
        }), "test");
        ModelPaths none = new ModelPaths(Optional.empty(), Map.of(), Optional.empty());
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry, none).withoutSubjects()
                .set(ComponentKind.DENOISING_MODEL, "toy-keeper").build()) {
            GenerationRequest request = GenerationRequest.builder("a toy").size(16, 16).steps(3).guidanceScale(1)
                    .build();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> assembled.pipeline().generate(request, ProgressListener.NONE));
            assertTrue(e.getMessage().startsWith("denoising model 'toy-keeper' kept 3 arrays beyond its 1 weights"),
                    e.getMessage());
        }
    }

    private Map<String, String> names() {
        Map<String, String> out = new TreeMap<>();
        installed.forEach((layer, p) -> out.put(layer, ((ToyAttention) p).id));
        return out;
    }

    private ComponentRegistry toyRegistry() {
        ComponentRegistry registry = new ComponentRegistry();
        registry.register(factory(ComponentKind.RECIPE, "toy", () -> TOY), "test");
        registry.register(factory(ComponentKind.TEXT_ENCODER, "toy-text", ToyText::new), "test");
        registry.register(factory(ComponentKind.DENOISING_MODEL, "toy-denoiser", () -> new ToyDenoiser(installed)),
                "test");
        registry.register(factory(ComponentKind.LATENT_DECODER, "toy-decoder", ToyDecoder::new), "test");
        registry.register(factory(ComponentKind.SCHEDULER, "toy-steps", ToySteps::new), "test");
        for (String id : List.of("toy-attention", "toy-subject-attention")) {
            registry.register(TestFactory.of(ComponentKind.ATTENTION_PROCESSOR, id,
                    context -> new ToyAttention(id, context.attentionLayers())), "test");
        }
        // the toy family takes no subjects: its image encoder and resampler slots name nothing installed

        return registry;
    }

    private static <T> ComponentFactory<T> factory(ComponentKind kind, String id, Supplier<T> create) {
        return TestFactory.of(kind, id, context -> create.get());
    }

    private static final class ToyText implements TextEncoder {
        @Override
        public int maxTokens() {
            return 4;
        }

        @Override
        public PromptEmbeddings encodeNegative(NDManager manager, List<String> negativePrompts) {
            return encode(manager, negativePrompts);
        }

        @Override
        public PromptEmbeddings encode(NDManager manager, List<String> prompts) {
            return new PromptEmbeddings(manager.zeros(new Shape(prompts.size(), 4, 8)),
                    manager.zeros(new Shape(prompts.size(), 8)));
        }

        @Override
        public NDArray encodePhrases(NDManager manager, List<String> phrases) {
            return manager.zeros(new Shape(phrases.size(), 8));
        }

        @Override
        public List<TokenSpan> locatePhrases(String prompt, List<String> phrases) {
            return Collections.nCopies(phrases.size(), new TokenSpan(1, 2));
        }

        @Override
        public int endOfTextIndex(String prompt) {
            return 3;
        }
    }

    private static class ToyDenoiser implements DenoisingModel {
        private final Map<String, AttentionProcessor> installed;

        ToyDenoiser(Map<String, AttentionProcessor> installed) {
            this.installed = installed;
        }

        @Override
        public int latentChannels() {
            return 4;
        }

        @Override
        public int crossAttentionDim() {
            return 8;
        }

        @Override
        public List<AttentionLayerSpec> attentionLayers() {
            return LAYERS;
        }

        @Override
        public void useAttentionProcessors(Function<String, AttentionProcessor> chooser) {
            installed.clear();
            attentionLayers().forEach(layer -> installed.put(layer.name(), chooser.apply(layer.name())));
        }

        @Override
        public NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
            return manager.zeros(input.latents().getShape());
        }
    }

    private static final class ToyDecoder implements LatentDecoder {
        @Override
        public int scaleFactor() {
            return 8;
        }

        @Override
        public NDArray decode(NDManager manager, NDArray latents) {
            Shape s = latents.getShape();
            return manager.zeros(new Shape(s.get(0), 3, s.get(2) * 8, s.get(3) * 8));
        }
    }

    private static final class ToySteps implements Scheduler {
        @Override
        public Run start(int steps, NDManager state) {
            return new Run() {
                @Override
                public float[] timesteps() {
                    return new float[steps];
                }

                @Override
                public float initNoiseSigma() {
                    return 1;
                }

                @Override
                public NDArray scaleModelInput(NDArray latents, int index) {
                    return latents.mul(1f);
                }

                @Override
                public NDArray step(NDArray modelOutput, int index, NDArray latents) {
                    return latents.sub(modelOutput);
                }
            };
        }
    }

    private static final class ToySubjects implements SubjectResampler {
        @Override
        public int tokensPerSubject() {
            return 1;
        }

        @Override
        public int outputDim() {
            return 8;
        }

        @Override
        public NDArray resample(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
                boolean[] dropGrounding) {
            return manager.zeros(new Shape(boxes.getShape().get(0), 1, 8));
        }

        @Override
        public NDArray dummyTokens(NDManager manager) {
            return manager.zeros(new Shape(1, 1, 8));
        }
    }

    private static final class ToyAttention implements AttentionProcessor {
        final String id;
        /** The layers of the denoiser it was created for. */
        final List<AttentionLayerSpec> layers;

        ToyAttention(String id, List<AttentionLayerSpec> layers) {
            this.id = id;
            this.layers = layers;
        }

        @Override
        public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight,
                int gridWidth, GenerationContext ctx) {
            return hidden;
        }
    }
}
