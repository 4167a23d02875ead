package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.ConfigurationException;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.PluginException;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.testing.TestFactory;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

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

    /**
     * An adapter that reads image embeddings and boxes only: what its unconditional rows hold is what it asks for
     * (zeros; its tokens of zero features; its tokens of a blank picture's features, after its background tokens),
     * and a phrase or auto layout, which it does not read, is refused by field.
     */
    @ParameterizedTest
    @EnumSource(SubjectResampler.Unconditional.class)
    void theUnconditionalRowsHoldWhatTheResamplerAsksFor(SubjectResampler.Unconditional unconditional) {
        ComponentRegistry registry = toyRegistry();
        ModelPaths none = new ModelPaths(Optional.empty(), Map.of(), Optional.empty());
        List<float[]> tokens = new ArrayList<>();
        ImageEncoder encoder = new ImageEncoder() {
            @Override
            public NDArray encode(NDManager m, List<BufferedImage> pictures, Features features) {
                assertEquals(Features.IMAGE_EMBEDS, features);
                return m.full(new Shape(pictures.size(), 8), 2f);
            }

            @Override
            public NDArray encodeBlank(NDManager m, int count, Features features) {
                return m.full(new Shape(count, 8), 5f);
            }
        };
        SubjectResampler adapter = new ToySubjects() {
            @Override
            public ImageEncoder.Features imageFeatures() {
                return ImageEncoder.Features.IMAGE_EMBEDS;
            }

            @Override
            public Set<SubjectField> subjectFields() {
                return EnumSet.of(SubjectField.BOX);
            }

            @Override
            public Unconditional unconditional() {
                return unconditional;
            }

            @Override
            public NDArray resample(NDManager m, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
                    boolean[] dropGrounding) {
                assertNull(phraseEmbeds, "no phrases are encoded for an adapter that reads none");
                return imageEmbeds.reshape(imageEmbeds.getShape().get(0), 1, 8);
            }

            @Override
            public NDArray dummyTokens(NDManager m) {
                return m.full(new Shape(1, 1, 8), 9f);
            }
        };
        DenoisingModel recording = new ToyDenoiser(installed) {
            @Override
            public NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
                tokens.add(input.context().subjects().orElseThrow().tokens().toFloatArray());
                return super.predictNoise(manager, input, ctx);
            }
        };
        BufferedImage picture = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry, none)
                .set(ComponentKind.IMAGE_ENCODER, encoder).set(ComponentKind.SUBJECT_RESAMPLER, adapter)
                .set(ComponentKind.DENOISING_MODEL, recording).build()) {
            GenerationRequest request = GenerationRequest.builder("a toy").size(16, 16).steps(1).guidanceScale(5)
                    .subject(Subject.of(picture, "toy.png", null, Box.NONE)).build();
            assembled.pipeline().generate(request, ProgressListener.NONE);
            float background = unconditional == SubjectResampler.Unconditional.ZERO_TOKENS ? 0 : 9;
            float subject = unconditional == SubjectResampler.Unconditional.BLANK_PICTURE_FEATURES ? 5 : 0;
            float[] expected = new float[32];
            for (int i = 0; i < 8; i++) {
                expected[i] = background;
                expected[8 + i] = subject;
                expected[16 + i] = 9;
                expected[24 + i] = 2;
            }
            assertArrayEquals(expected, tokens.get(0), "[unconditional row; conditional row]");

            InvalidRequestException refused = assertThrows(InvalidRequestException.class, () -> assembled.pipeline()
                    .generate(request.toBuilder().subjects(List.of(Subject.of(picture, "toy.png", "toy", Box.NONE)))
                            .autoLayout(new AutoLayout(0.3, 0)).build(), ProgressListener.NONE));
            assertEquals(List.of("subjects[0].phrase", "autoLayout"),
                    refused.errors().stream().map(FieldError::field).toList());
        }
    }

    @Test
    void withSeveralRecipesOneMustBeNamed() {
        ComponentRegistry registry = toyRegistry();
        registry.register(factory(ComponentKind.RECIPE, "other", () -> TOY), "test");
        ModelPaths none = new ModelPaths(Optional.empty(), Map.of(), Optional.empty());
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> new PipelineBuilder(TestEngine.engine(), registry, none).build());
        assertTrue(e.getMessage().contains("recipes [other, toy] are installed"), e.getMessage());
        try (AssembledPipeline assembled = new PipelineBuilder(TestEngine.engine(), registry, none).recipe("toy")
                .withoutSubjects().build()) {
            assertEquals(2, names().size());
        }
        PluginException unknown = assertThrows(PluginException.class,
                () -> new PipelineBuilder(TestEngine.engine(), registry, none).recipe("tyo").build());
        assertTrue(unknown.getMessage().contains("did you mean toy"), unknown.getMessage());
    }

    @Test
    void aComponentThatDoesNotFitItsModelIsAConfigurationErrorNamingTheComponentAndItsModels() {
        ComponentRegistry registry = toyRegistry();
        IllegalArgumentException misfit = new IllegalArgumentException("decoder.conv_in.weight has shape [4, 4], "
                + "expected [8, 4]");
        registry.register(TestFactory.of(ComponentKind.LATENT_DECODER, "toy-misfit", context -> {
            throw misfit;
        }).withModelFiles(List.of(ModelFile.folder("vae", "vae", "a toy decoder").optional())), "test");
        ModelPaths none = new ModelPaths(Optional.empty(), Map.of(), Optional.empty());
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> new PipelineBuilder(
                TestEngine.engine(), registry, none).withoutSubjects().set(ComponentKind.LATENT_DECODER, "toy-misfit")
                .build());
        assertEquals("latent decoder 'toy-misfit' (models vae) cannot be created: decoder.conv_in.weight has shape "
                + "[4, 4], expected [8, 4]", e.getMessage());
        assertSame(misfit, e.getCause(), "the plugin's own error stays the cause");
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

    /** The id of each layer's own processor; a self-attention layer's is wrapped for perturbed-attention guidance. */
    private Map<String, String> names() {
        Map<String, String> out = new TreeMap<>();
        installed.forEach((layer, p) -> {
            boolean self = LAYERS.stream().anyMatch(l -> l.name().equals(layer) && !l.isCrossAttention());
            assertEquals(self, p instanceof PerturbedSelfAttention, layer);
            out.put(layer, ((ToyAttention) (self ? ((PerturbedSelfAttention) p).processor() : p)).id);
        });
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

    private static class ToySubjects implements SubjectResampler {
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
