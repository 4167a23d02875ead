package dev.montage.plugins.clip;

import dev.montage.api.Cancellation;
import dev.montage.plugins.clip.AddedTokenSplitter.Segment;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CLIP byte-level BPE tokenizer of a transformers tokenizer folder ({@code vocab.json}, {@code merges.txt},
 * optionally {@code tokenizer_config.json} and {@code special_tokens_map.json}), reproducing transformers' slow
 * {@code CLIPTokenizer} without ftfy token for token, as SDXL's two tokenizers use it.
 *
 * <p>A text goes through four steps: added tokens (every special token of the configuration, e.g. {@code !} where it
 * is the pad token) are cut out of the raw text case-sensitively; each remaining piece is cleaned up like
 * transformers' {@code BasicTokenizer} (control characters dropped, whitespace unified, CJK ideographs
 * isolated, NFC, lower-cased, accents kept); CLIP's regular expression splits it into words,
 * single digits and punctuation runs; each of those is BPE-encoded with {@code </w>} on its last symbol.
 *
 * <p>Instances are immutable apart from an internal, bounded BPE cache, and safe to share between threads.
 */
public final class ClipTokenizer {

    /** CLIP's pre-tokenizer; it runs on lower-cased text, the flags only matter for {@code do_lower_case=false}. */
    private static final Pattern WORD_PIECES = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> addedIds;
    private final BytePairEncoder bpe;
    private final Set<String> splitOn;
    private final AddedTokenSplitter splitter;
    /** The tokens a textual inversion's name stands for: the name, then name_1 ... for its further vectors. */
    private final Map<String, List<String>> inversions;
    private final boolean lowerCase;
    private final int maxLength;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;

    private ClipTokenizer(Map<String, Integer> vocab, Map<String, Integer> addedIds, BytePairEncoder bpe,
            TokenizerConfig config) {
        this(vocab, addedIds, bpe, config.addedTokens(), Map.of(), config.lowerCase(), config.maxLength(),
                addedIds.get(config.bos()), addedIds.get(config.eos()), addedIds.get(config.pad()),
                addedIds.get(config.unk()));
    }

    private ClipTokenizer(Map<String, Integer> vocab, Map<String, Integer> addedIds, BytePairEncoder bpe,
            Set<String> splitOn, Map<String, List<String>> inversions, boolean lowerCase, int maxLength, int bosId,
            int eosId, int padId, int unkId) {
        this.vocab = vocab;
        this.addedIds = addedIds;
        this.bpe = bpe;
        this.splitOn = Set.copyOf(splitOn);
        this.splitter = new AddedTokenSplitter(this.splitOn);
        this.inversions = Map.copyOf(inversions);
        this.lowerCase = lowerCase;
        this.maxLength = maxLength;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.unkId = unkId;
    }

    /**
     * Loads the tokenizer of a transformers tokenizer folder.
     *
     * @throws java.nio.file.NoSuchFileException when {@code vocab.json} or {@code merges.txt} is missing
     * @throws IOException when a file cannot be read or is malformed; the message names the file
     */
    public static ClipTokenizer load(Path folder) throws IOException {
        Map<String, Integer> vocab = TokenizerFiles.readVocab(folder);
        BytePairEncoder bpe = new BytePairEncoder(TokenizerFiles.readMerges(folder));
        TokenizerConfig config = TokenizerConfig.read(folder);
        return new ClipTokenizer(vocab, addedTokenIds(vocab, config, folder), bpe, config);
    }

    /**
     * This tokenizer with textual inversion embeddings added, as diffusers' {@code load_textual_inversion} adds them:
     * an embedding of n vectors is the added tokens {@code name}, {@code name_1} ... {@code name_<n-1>}, with ids
     * from {@code firstId} on in order, and its name in a text stands for all of them (found as added tokens are,
     * before the text is normalised).
     *
     * @param vectors each embedding's name and number of vectors
     * @throws IllegalArgumentException naming the embedding when one of its tokens is already one the tokenizer adds
     */
    ClipTokenizer withEmbeddings(Map<String, Integer> vectors, int firstId) {
        if (vectors.isEmpty()) {
            return this;
        }
        Map<String, Integer> ids = new HashMap<>(addedIds);
        Map<String, List<String>> expanded = new HashMap<>(inversions);
        int next = firstId;
        for (Map.Entry<String, Integer> e : vectors.entrySet()) {
            List<String> tokens = new ArrayList<>();
            for (int i = 0; i < e.getValue(); i++) {
                String token = i == 0 ? e.getKey() : e.getKey() + "_" + i;
                if (ids.containsKey(token)) {
                    throw new IllegalArgumentException("textual inversion '" + e.getKey() + "': its token '" + token
                            + "' is already one the tokenizer adds; rename the file");
                }
                ids.put(token, next++);
                tokens.add(token);
            }
            expanded.put(e.getKey(), tokens);
        }
        Set<String> split = new HashSet<>(splitOn);
        split.addAll(vectors.keySet());
        return new ClipTokenizer(vocab, Map.copyOf(ids), bpe, split, expanded, lowerCase, maxLength, bosId, eosId,
                padId, unkId);
    }

    /**
     * The model input: {@link #maxLength()} ids, begin-of-text, at most {@code maxLength - 2} tokens of the text (the
     * rest is cut off, and not tokenized at all), end-of-text, then padding with {@link #padId()}.
     */
    public int[] encode(String text) {
        int[] content = contentIds(text, maxLength - 2);
        int kept = Math.min(content.length, maxLength - 2);
        int[] ids = new int[maxLength];
        Arrays.fill(ids, padId);
        ids[0] = bosId;
        System.arraycopy(content, 0, ids, 1, kept);
        ids[kept + 1] = eosId;
        return ids;
    }

    /**
     * The ids of {@link #encode} and a weight per id.
     *
     * @param ids     {@link #maxLength()} ids
     * @param weights the weight of each id: its fragment's, 1 for the sentinels and the padding
     */
    record WeightedIds(int[] ids, float[] weights) {
    }

    /**
     * The model input of an emphasised prompt, as A1111 tokenizes one: each fragment on its own, the tokens
     * concatenated and cut as {@link #encode} cuts them, each with its fragment's weight (in float32, as A1111 hands
     * them to torch).
     */
    WeightedIds encode(List<PromptAttention.Fragment> fragments) {
        int[] ids = new int[maxLength];
        float[] weights = new float[maxLength];
        Arrays.fill(ids, padId);
        Arrays.fill(weights, 1f);
        ids[0] = bosId;
        int n = 1;
        for (PromptAttention.Fragment fragment : fragments) {
            for (int id : contentIds(fragment.text(), maxLength - 1 - n)) {
                if (n == maxLength - 1) {
                    break;
                }
                weights[n] = (float) fragment.weight();
                ids[n++] = id;
            }
        }
        ids[n] = eosId;
        return new WeightedIds(ids, weights);
    }

    /** Begin-of-text, every token of the text, end-of-text: no truncation, no padding. */
    public int[] encodeUntruncated(String text) {
        int[] content = contentIds(text, Integer.MAX_VALUE);
        int[] ids = new int[content.length + 2];
        ids[0] = bosId;
        System.arraycopy(content, 0, ids, 1, content.length);
        ids[ids.length - 1] = eosId;
        return ids;
    }

    /**
     * The tokens of the text without the sentinels added around it: BPE symbols (a word's last one ends in
     * {@code </w>}) and the contents of added tokens found in the text.
     */
    public List<String> tokens(String text) {
        return tokens(text, Integer.MAX_VALUE);
    }

    /** The first tokens of the text, at least {@code limit} of them where it has as many; later words stay untouched. */
    private List<String> tokens(String text, int limit) {
        List<String> tokens = new ArrayList<>();
        for (Segment segment : splitter.split(text)) {
            if (tokens.size() >= limit) {
                break;
            }
            if (segment.added()) {
                tokens.addAll(inversions.getOrDefault(segment.text(), List.of(segment.text())));
                continue;
            }
            Matcher pieces = WORD_PIECES.matcher(TextNormalizer.normalize(segment.text(), lowerCase));
            while (tokens.size() < limit && pieces.find()) {
                Cancellation.checkpoint();
                tokens.addAll(bpe.encode(pieces.group()));
            }
        }
        return tokens;
    }

    /** Id of the begin-of-text token. */
    public int bosId() {
        return bosId;
    }

    /** Id of the end-of-text token. */
    public int eosId() {
        return eosId;
    }

    /** Id that {@link #encode} pads with. */
    public int padId() {
        return padId;
    }

    /** Length of {@link #encode}'s output, sentinels included ({@code model_max_length}). */
    public int maxLength() {
        return maxLength;
    }

    private int[] contentIds(String text, int limit) {
        return tokens(text, limit).stream().mapToInt(this::tokenId).toArray();
    }

    /** Added tokens first, then the vocabulary, else the unknown token, as transformers looks ids up. */
    private int tokenId(String token) {
        Integer id = addedIds.get(token);
        if (id == null) {
            id = vocab.get(token);
        }
        return id == null ? unkId : id;
    }

    /** Every added token's id: declared in {@code added_tokens_decoder}, else its vocabulary entry. */
    private static Map<String, Integer> addedTokenIds(Map<String, Integer> vocab, TokenizerConfig config, Path folder)
            throws IOException {
        Map<String, Integer> ids = new HashMap<>(config.declaredIds());
        for (String content : config.addedTokens()) {
            Integer id = ids.containsKey(content) ? ids.get(content) : vocab.get(content);
            if (id == null) {
                // transformers would append it after the vocabulary, past the end of the text encoder's embedding
                throw new IOException(folder.resolve(TokenizerFiles.VOCAB) + ": special token '" + content
                        + "' of the tokenizer configuration is not in the vocabulary");
            }
            ids.put(content, id);
        }
        return Map.copyOf(ids);
    }
}
