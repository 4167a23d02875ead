package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.spi.TextEncoder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * SDXL's prompt encoding: CLIP ViT-L ({@code text_encoder}) and OpenCLIP bigG ({@code text_encoder_2}) with
 * their tokenizers, as diffusers' {@code StableDiffusionXLPipeline.encode_prompt} runs them, plus the phrase
 * embeddings and token positions MS-Diffusion needs.
 *
 * <p>With {@link PromptWeighting#A1111} a prompt's emphasis ({@link PromptAttention}) weighs its tokens as A1111's
 * "Original" emphasis does, in each tower: the hidden states of each token are multiplied by its weight, then all of
 * them by the ratio of the prompt's mean hidden state before and after, so the weighting moves the tokens against
 * each other, not the prompt's overall level. The pooled embedding is the unweighted one, as in A1111. A prompt
 * without emphasis gives the same embeddings either way.
 */
final class SdxlTextEncoder implements TextEncoder, AutoCloseable {
    private final ClipTokenizer tokenizer1;
    private final ClipTokenizer tokenizer2;
    private final PhraseLocator phraseLocator;
    private final ClipTextModel encoder1;
    private final ClipTextModel encoder2;
    private final boolean zerosForEmptyNegative;
    private final Kernels kernels;
    private final ComputeDType dtype;
    private final PromptWeighting weighting;

    /**
     * @param zerosForEmptyNegative the pipeline's {@code force_zeros_for_empty_prompt}
     * @param weighting             what a prompt's emphasis syntax does
     * @param inversions            textual inversion embeddings the prompts may name
     */
    SdxlTextEncoder(ModelFolder tokenizer1, ModelFolder tokenizer2, ModelFolder textEncoder1, ModelFolder textEncoder2,
            boolean zerosForEmptyNegative, NDManager manager, Kernels kernels, ComputeDType dtype,
            PromptWeighting weighting, TextualInversions inversions) {
        this.weighting = weighting;
        this.zerosForEmptyNegative = zerosForEmptyNegative;
        this.kernels = kernels;
        this.dtype = dtype;
        ClipTokenizer loaded1 = loadTokenizer(tokenizer1);
        ClipTokenizer loaded2 = loadTokenizer(tokenizer2);
        this.encoder1 = new ClipTextModel(textEncoder1, manager, kernels, dtype, inversions, TextualInversions.FIRST);
        try {
            this.encoder2 = new ClipTextModel(textEncoder2, manager, kernels, dtype, inversions,
                    TextualInversions.SECOND);
        } catch (RuntimeException e) {
            encoder1.close();
            throw e;
        }
        try {
            if (encoder2.config().projectionDim() <= 0) {
                throw new IllegalArgumentException(textEncoder2.path() + ": the second text encoder needs a "
                        + "projection");
            }
            // diffusers adds an embedding's tokens after the tokenizer's, which are as many as the encoder's rows
            this.tokenizer1 = loaded1.withEmbeddings(inversions.vectors(), encoder1.config().vocabSize());
            this.tokenizer2 = loaded2.withEmbeddings(inversions.vectors(), encoder2.config().vocabSize());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.phraseLocator = new PhraseLocator(this.tokenizer1);
    }

    private static ClipTokenizer loadTokenizer(ModelFolder folder) {
        try {
            return ClipTokenizer.load(folder.path());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the tokenizer in " + folder.path() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int maxTokens() {
        return tokenizer1.maxLength();
    }

    /** Token ids of both tokenizers, [B][77] each. */
    int[][][] tokenize(List<String> prompts) {
        int[][] ids1 = new int[prompts.size()][];
        int[][] ids2 = new int[prompts.size()][];
        for (int i = 0; i < prompts.size(); i++) {
            ids1[i] = tokenizer1.encode(prompts.get(i));
            ids2[i] = tokenizer2.encode(prompts.get(i));
        }
        return new int[][][] {ids1, ids2};
    }

    @Override
    public PromptEmbeddings encode(NDManager manager, List<String> prompts) {
        return encode(manager, prompts, "prompt");
    }

    /**
     * @param field the request field the prompts come from, for the refusal of emphasis syntax they misuse
     * @throws InvalidRequestException naming {@code field} when A1111 weighting refuses a prompt
     */
    private PromptEmbeddings encode(NDManager manager, List<String> prompts, String field) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to encode");
        }
        if (weighting == PromptWeighting.NONE) {
            int[][][] ids = tokenize(prompts);
            return encode(manager, ids[0], ids[1], null, null);
        }
        int n = prompts.size();
        int[][] ids1 = new int[n][];
        int[][] ids2 = new int[n][];
        float[][] weights1 = new float[n][];
        float[][] weights2 = new float[n][];
        for (int i = 0; i < n; i++) {
            List<PromptAttention.Fragment> fragments;
            try {
                fragments = PromptAttention.parse(prompts.get(i));
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException(List.of(new FieldError(field, e.getMessage())));
            }
            ClipTokenizer.WeightedIds first = tokenizer1.encode(fragments);
            ClipTokenizer.WeightedIds second = tokenizer2.encode(fragments);
            ids1[i] = first.ids();
            weights1[i] = first.weights();
            ids2[i] = second.ids();
            weights2[i] = second.weights();
        }
        return encode(manager, ids1, ids2, weights1, weights2);
    }

    /** @param weights1 the weight of each token of the first tower, or null for none (and so for the second) */
    private PromptEmbeddings encode(NDManager manager, int[][] ids1, int[][] ids2, float[][] weights1,
            float[][] weights2) {
        try (NDManager scope = manager.newSubManager()) {
            ClipTextModel.Output out1 = encoder1.forward(ids1, scope);
            ClipTextModel.Output out2 = encoder2.forward(ids2, scope);
            NDArray hidden1 = out1.penultimate();
            NDArray hidden2 = out2.penultimate();
            if (weights1 != null) {
                hidden1 = emphasise(hidden1, weights1, scope);
                hidden2 = emphasise(hidden2, weights2, scope);
            }
            NDArray tokens = hidden1.concat(hidden2, -1);
            NDArray pooled = out2.projected();
            tokens.attach(manager);
            pooled.attach(manager);
            return new PromptEmbeddings(tokens, pooled);
        }
    }

    /**
     * A1111's "Original" emphasis of one tower's hidden states [B, 77, C], each prompt on its own, in float32: z · w,
     * then times mean(z) / mean(z · w).
     */
    private NDArray emphasise(NDArray hidden, float[][] weights, NDManager scope) {
        NDArray z = kernels.cast(hidden, ComputeDType.FLOAT32);
        NDList prompts = new NDList();
        for (int b = 0; b < weights.length; b++) {
            NDArray row = z.get(b);
            NDArray weighted = row.mul(scope.create(weights[b], new Shape(weights[b].length, 1)));
            prompts.add(weighted.mul(row.mean().div(weighted.mean())));
        }
        return kernels.cast(NDArrays.stack(prompts), dtype);
    }

    @Override
    public PromptEmbeddings encodeNegative(NDManager manager, List<String> negativePrompts) {
        PromptEmbeddings encoded = encode(manager, negativePrompts, "negativePrompt");
        if (!zerosForEmptyNegative || negativePrompts.stream().noneMatch(String::isEmpty)) {
            return encoded;
        }
        try (NDManager scope = manager.newSubManager()) {
            NDList tokens = new NDList();
            NDList pooled = new NDList();
            for (int i = 0; i < negativePrompts.size(); i++) {
                boolean zero = negativePrompts.get(i).isEmpty();
                NDArray t = encoded.tokens().get(i);
                NDArray p = encoded.pooled().get(i);
                tokens.add(zero ? kernels.zeros(scope, t.getShape(), dtype) : t);
                pooled.add(zero ? kernels.zeros(scope, p.getShape(), dtype) : p);
            }
            NDArray t = NDArrays.stack(tokens);
            NDArray p = NDArrays.stack(pooled);
            t.attach(manager);
            p.attach(manager);
            encoded.close();
            return new PromptEmbeddings(t, p);
        }
    }

    @Override
    public NDArray encodePhrases(NDManager manager, List<String> phrases) {
        if (phrases.isEmpty()) {
            throw new IllegalArgumentException("no phrases to encode");
        }
        int[][] ids = new int[phrases.size()][];
        for (int i = 0; i < phrases.size(); i++) {
            ids[i] = tokenizer1.encode(phrases.get(i));
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray pooled = encoder1.forward(ids, scope).pooled();
            pooled.attach(manager);
            return pooled;
        }
    }

    /** With A1111 weighting, the phrases are looked for in the prompt's text without its emphasis syntax. */
    @Override
    public List<TokenSpan> locatePhrases(String prompt, List<String> phrases) {
        List<TokenSpan> spans = new ArrayList<>(phrases.size());
        for (PhraseSpan s : phraseLocator.locateAll(tokenText(prompt), phrases)) {
            spans.add(new TokenSpan(s.start(), s.end()));
        }
        return spans;
    }

    @Override
    public int endOfTextIndex(String prompt) {
        return phraseLocator.eotIndex(tokenText(prompt));
    }

    /** The text whose tokens the encoder reads. */
    private String tokenText(String prompt) {
        return weighting == PromptWeighting.NONE ? prompt : PromptAttention.plainText(prompt);
    }

    @Override
    public void close() {
        try {
            encoder1.close();
        } finally {
            encoder2.close();
        }
    }
}
