package dev.montage.plugins.clip;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code tokenizer_config.json} and {@code special_tokens_map.json} say, read the way transformers (>= 4.34) reads
 * them for a slow {@code CLIPTokenizer}: the special-token map wins over the config, missing special tokens take
 * CLIPTokenizer's defaults, and every special token (bos, eos, unk, pad, sep, cls, mask, additional) and every entry
 * of {@code added_tokens_decoder} becomes an added token that is split out of raw text before anything else. That is
 * how SDXL's second tokenizer, whose {@code pad_token} is {@code "!"}, ends up cutting every {@code !} out as id 0.
 *
 * @param bos         content of the begin-of-text token
 * @param eos         content of the end-of-text token
 * @param unk         content of the token for symbols missing from the vocabulary
 * @param pad         content of the padding token
 * @param addedTokens contents of the added tokens
 * @param declaredIds ids that {@code added_tokens_decoder} assigns, by content; other added tokens use the vocabulary
 * @param maxLength   {@code model_max_length}: sequence length including both sentinels
 * @param lowerCase   {@code do_lower_case}, default true (transformers' slow CLIPTokenizer ignores the key and
 *                    always lower-cases; every published CLIP configuration says true)
 */
record TokenizerConfig(
        String bos,
        String eos,
        String unk,
        String pad,
        Set<String> addedTokens,
        Map<String, Integer> declaredIds,
        int maxLength,
        boolean lowerCase) {

    /** CLIP's text context (positions of the text encoder), used when the config does not say. */
    static final int DEFAULT_MAX_LENGTH = 77;

    private static final String START_OF_TEXT = "<|startoftext|>";
    private static final String END_OF_TEXT = "<|endoftext|>";

    /** One JSON file of the folder. */
    private record Source(Path file, JsonNode root) {
    }

    /** A value found in one of the files, remembered with its file for error messages. */
    private record Setting(Path file, JsonNode value) {
    }

    TokenizerConfig {
        addedTokens = Set.copyOf(addedTokens);
        declaredIds = Map.copyOf(declaredIds);
    }

    static TokenizerConfig read(Path folder) throws IOException {
        List<Source> config = source(folder.resolve(TokenizerFiles.CONFIG));
        List<Source> both = new ArrayList<>(source(folder.resolve(TokenizerFiles.SPECIAL_TOKENS_MAP)));
        both.addAll(config);

        Map<String, Integer> declaredIds = new HashMap<>();
        Optional<Setting> decoder = lookup(config, "added_tokens_decoder");
        if (decoder.isPresent()) {
            readAddedTokensDecoder(decoder.get(), declaredIds);
        }
        String bos = specialToken(both, "bos_token").orElse(START_OF_TEXT);
        String eos = specialToken(both, "eos_token").orElse(END_OF_TEXT);
        String unk = specialToken(both, "unk_token").orElse(END_OF_TEXT);
        String pad = specialToken(both, "pad_token").orElse(END_OF_TEXT);
        Set<String> added = new HashSet<>(declaredIds.keySet());
        added.addAll(List.of(bos, eos, unk, pad));
        for (String key : List.of("sep_token", "cls_token", "mask_token")) {
            specialToken(both, key).ifPresent(added::add);
        }
        Optional<Setting> additional = lookup(both, "additional_special_tokens");
        if (additional.isPresent()) {
            Setting list = additional.get();
            if (!list.value().isArray()) {
                throw new IOException(list.file() + ": additional_special_tokens must be a list");
            }
            for (JsonNode element : list.value()) {
                added.add(parseToken(new Setting(list.file(), element), "additional_special_tokens"));
            }
        }
        return new TokenizerConfig(bos, eos, unk, pad, added, declaredIds, maxLength(config), lowerCase(config));
    }

    private static List<Source> source(Path file) throws IOException {
        return TokenizerFiles.readJson(file).map(root -> List.of(new Source(file, root))).orElse(List.of());
    }

    /** The first file that sets the key to something other than null. */
    private static Optional<Setting> lookup(List<Source> sources, String key) {
        for (Source source : sources) {
            JsonNode value = source.root().get(key);
            if (value != null && !value.isNull()) {
                return Optional.of(new Setting(source.file(), value));
            }
        }
        return Optional.empty();
    }

    private static Optional<String> specialToken(List<Source> sources, String key) throws IOException {
        Optional<Setting> setting = lookup(sources, key);
        return setting.isEmpty() ? Optional.empty() : Optional.of(parseToken(setting.get(), key));
    }

    private static void readAddedTokensDecoder(Setting decoder, Map<String, Integer> declaredIds)
            throws IOException {
        if (!decoder.value().isObject()) {
            throw new IOException(decoder.file() + ": added_tokens_decoder must be an object of id -> token");
        }
        for (Map.Entry<String, JsonNode> entry : decoder.value().properties()) {
            int id;
            try {
                id = Integer.parseInt(entry.getKey());
            } catch (NumberFormatException e) {
                throw new IOException(decoder.file() + ": added_tokens_decoder key '" + entry.getKey()
                        + "' is not an integer id", e);
            }
            String content = parseToken(new Setting(decoder.file(), entry.getValue()), "added_tokens_decoder");
            // a content declared twice keeps its first id, as transformers' encoder map does
            declaredIds.putIfAbsent(content, id);
        }
    }

    /**
     * The content of a token written either as a plain string or as a serialized {@code AddedToken} object. Its
     * {@code lstrip}/{@code rstrip} flags are irrelevant: the clean-up trims the text around added tokens anyway.
     */
    private static String parseToken(Setting setting, String key) throws IOException {
        JsonNode node = setting.value();
        if (node.isTextual() && !node.textValue().isEmpty()) {
            return node.textValue();
        }
        JsonNode content = node.path("content");
        if (!node.isObject() || !content.isTextual() || content.textValue().isEmpty()) {
            throw new IOException(setting.file() + ": " + key
                    + " must be a non-empty string or an object with a non-empty \"content\", got " + node);
        }
        if (node.path("single_word").asBoolean(false)) {
            throw new IOException(setting.file() + ": " + key + " '" + content.textValue()
                    + "' is a single_word token, which this tokenizer does not support");
        }
        return content.textValue();
    }

    private static int maxLength(List<Source> config) throws IOException {
        Optional<Setting> setting = lookup(config, "model_max_length");
        if (setting.isEmpty()) {
            return DEFAULT_MAX_LENGTH;
        }
        JsonNode value = setting.get().value();
        if (!value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < 2) {
            throw new IOException(setting.get().file() + ": model_max_length must be an integer >= 2, got " + value);
        }
        return value.intValue();
    }

    private static boolean lowerCase(List<Source> config) throws IOException {
        Optional<Setting> setting = lookup(config, "do_lower_case");
        if (setting.isEmpty()) {
            return true;
        }
        if (!setting.get().value().isBoolean()) {
            throw new IOException(setting.get().file() + ": do_lower_case must be true or false, got "
                    + setting.get().value());
        }
        return setting.get().value().booleanValue();
    }
}
