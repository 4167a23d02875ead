package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
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

    /**
     * @param zerosForEmptyNegative the pipeline's {@code force_zeros_for_empty_prompt}
     */
    SdxlTextEncoder(ModelFolder tokenizer1, ModelFolder tokenizer2, ModelFolder textEncoder1, ModelFolder textEncoder2,
            boolean zerosForEmptyNegative, NDManager manager, Kernels kernels, ComputeDType dtype) {
        this.tokenizer1 = loadTokenizer(tokenizer1);
        this.tokenizer2 = loadTokenizer(tokenizer2);
        this.phraseLocator = new PhraseLocator(this.tokenizer1);
        this.zerosForEmptyNegative = zerosForEmptyNegative;
        this.kernels = kernels;
        this.dtype = dtype;
        this.encoder1 = new ClipTextModel(textEncoder1, manager, kernels, dtype);
        ClipTextModel second;
        try {
            second = new ClipTextModel(textEncoder2, manager, kernels, dtype);
        } catch (RuntimeException e) {
            encoder1.close();
            throw e;
        }
        this.encoder2 = second;
        if (encoder2.config().projectionDim() <= 0) {
            throw new IllegalArgumentException(textEncoder2.path() + ": the second text encoder needs a projection");
        }
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
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to encode");
        }
        int[][][] ids = tokenize(prompts);
        try (NDManager scope = manager.newSubManager()) {
            ClipTextModel.Output out1 = encoder1.forward(ids[0], scope);
            ClipTextModel.Output out2 = encoder2.forward(ids[1], scope);
            NDArray tokens = out1.penultimate().concat(out2.penultimate(), -1);
            NDArray pooled = out2.projected();
            tokens.attach(manager);
            pooled.attach(manager);
            return new PromptEmbeddings(tokens, pooled);
        }
    }

    @Override
    public PromptEmbeddings encodeNegative(NDManager manager, List<String> negativePrompts) {
        PromptEmbeddings encoded = encode(manager, negativePrompts);
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

    @Override
    public List<TokenSpan> locatePhrases(String prompt, List<String> phrases) {
        List<TokenSpan> spans = new ArrayList<>(phrases.size());
        for (PhraseSpan s : phraseLocator.locateAll(prompt, phrases)) {
            spans.add(new TokenSpan(s.start(), s.end()));
        }
        return spans;
    }

    @Override
    public int endOfTextIndex(String prompt) {
        return phraseLocator.eotIndex(prompt);
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
