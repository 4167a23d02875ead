package dev.montage.plugins.msdiffusion;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import static dev.montage.api.host.ModelConfig.MAX_LAYERS;
import static dev.montage.api.host.ModelConfig.MAX_WIDTH;

import dev.montage.api.host.ModelConfig;
import java.io.CharConversionException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The hyper-parameters of MS-Diffusion's {@code Resampler} (the keyword arguments its constructor takes), so
 * that the same code runs the published checkpoint and the tiny test model.
 *
 * @param source              where the values come from, for messages
 * @param dim                 width of the latent queries inside the resampler
 * @param depth               number of (attention, feed-forward) layers
 * @param dimHead             width of one attention head
 * @param heads               number of attention heads
 * @param numQueries          tokens produced per subject
 * @param embeddingDim        width of the image encoder's tokens
 * @param outputDim           width of the produced tokens (the UNet's cross-attention width)
 * @param ffInnerDim          hidden width of the feed-forward ({@code int(dim * ff_mult)})
 * @param phraseEmbeddingsDim width of a phrase embedding
 * @param fourierFreqs        frequencies of the Fourier box embedding
 */
record ResamplerConfig(
        String source,
        int dim,
        int depth,
        int dimHead,
        int heads,
        int numQueries,
        int embeddingDim,
        int outputDim,
        int ffInnerDim,
        int phraseEmbeddingsDim,
        int fourierFreqs) {

    /** The most attention heads, query tokens and box frequencies a configuration may ask for (the published 20, 16, 8). */
    private static final int MAX_HEADS = 1024;
    private static final int MAX_TOKENS = 1024;
    private static final int MAX_FREQUENCIES = 1024;

    /**
     * The published MS-Diffusion SDXL checkpoint's resampler, as the official {@code inference.py} builds it:
     * CLIP-G image tokens (1664), CLIP-L phrase embeddings (768), 16 tokens of SDXL's cross-attention width.
     */
    static final ResamplerConfig MS_DIFFUSION_SDXL = new ResamplerConfig(
            "the built-in configuration of the published MS-Diffusion SDXL checkpoint (set '"
                    + MsDiffusionResamplerFactory.CONFIG_KEY + "' for another checkpoint)",
            1280, 4, 64, 20, 16, 1664, 2048, 4 * 1280, 768, 8);

    /** Width of the attention's inner projections ({@code heads * dim_head}). */
    int innerDim() {
        return heads * dimHead;
    }

    /** Width of phrase embedding plus Fourier box embedding (sin and cos of 4 coordinates per frequency). */
    int groundingEmbeddingDim() {
        return phraseEmbeddingsDim + fourierFreqs * 2 * 4;
    }

    /**
     * Reads the resampler's keyword arguments from a configuration.
     *
     * @throws IllegalArgumentException naming the source and the key when a size is missing, or when the
     *     configuration asks for a variant this implementation does not have (random latent queries, positional
     *     embeddings, mean-pooled latents)
     */
    static ResamplerConfig from(ModelConfig c) {
        String mode = c.getString("latent_init_mode", "random");
        if (!mode.equals("grounding")) {
            throw new IllegalArgumentException(c.source() + ": 'latent_init_mode' is '" + mode
                    + "', only 'grounding' (MS-Diffusion's phrase and box queries) is supported");
        }
        if (c.getBoolean("apply_pos_emb", false)) {
            throw new IllegalArgumentException(c.source() + ": 'apply_pos_emb' true is not supported "
                    + "(MS-Diffusion trains without positional embeddings)");
        }
        if (c.getInt("num_latents_mean_pooled", 0) != 0) {
            throw new IllegalArgumentException(c.source() + ": 'num_latents_mean_pooled' must be 0, got "
                    + c.getInt("num_latents_mean_pooled"));
        }
        int dim = c.getInt("dim", 1, MAX_WIDTH);
        // the official FeedForward sizes its hidden layer as int(dim * mult), so a fractional mult is allowed
        int ffInner = c.inRange("int(dim * ff_mult)", (int) (dim * c.getDouble("ff_mult", 4)), 1, 4 * MAX_WIDTH);
        return new ResamplerConfig(c.source(), dim, c.getInt("depth", 1, MAX_LAYERS),
                c.getInt("dim_head", 1, MAX_WIDTH), c.getInt("heads", 1, MAX_HEADS),
                c.getInt("num_queries", 1, MAX_TOKENS), c.getInt("embedding_dim", 1, MAX_WIDTH),
                c.getInt("output_dim", 1, MAX_WIDTH), ffInner, c.getInt("phrase_embeddings_dim", 1, MAX_WIDTH),
                c.getInt("fourier_freqs", 8, 1, MAX_FREQUENCIES));
    }

    /**
     * Reads a JSON file: either the resampler's keyword arguments themselves ({@code resampler_config.json}) or
     * an adapter configuration holding them under {@code "resampler"} ({@code ms_adapter_config.json}).
     *
     * @throws IllegalArgumentException naming the file when it is not a JSON object, or as {@link #from}
     */
    @SuppressWarnings("unchecked")
    static ResamplerConfig read(Path file) {
        Object parsed;
        try {
            parsed = new ObjectMapper().readValue(file.toFile(), Object.class);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (CharConversionException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage() + " (UTF-8 expected)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the resampler configuration " + file, e);
        }
        if (!(parsed instanceof Map)) {
            throw new IllegalArgumentException(file + ": expected a JSON object with the resampler's settings");
        }
        ModelConfig config = new ModelConfig(file.toString(), (Map<String, Object>) parsed);
        return from(config.getObject("resampler").orElse(config));
    }

}
