package dev.montage.plugins.clip;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small byte-level BPE vocabulary of Montage's own, in CLIP's {@code vocab.json} + {@code merges.txt} layout,
 * for the embedded default model (Montage ships no third-party vocabulary). The layout follows CLIP: the 256
 * byte symbols, the same with {@code </w>}, one token per learned merge, then {@code <|startoftext|>} and
 * {@code <|endoftext|>}. Merges are learned from a built-in sample of prompt words, so common words are single
 * tokens and every other text still tokenizes (bytes cover everything).
 */
public final class TinyClipVocabulary {
    private static final String CORPUS = "best quality high quality a photo of dog cat on the beach in a room "
            + "with and wearing hat jacket backpack clock teapot street snow grass jungle sneaker toy stuffed animal "
            + "barn background red fox snowy forest golden hour highly detailed monochrome lowres bad anatomy worst "
            + "low blurry watermark text portrait of woman man person sitting standing park bench table plushie "
            + "wolf bear bird flower city mountain lake river sky sunset night light painting style realistic";
    private static final int MERGES = 300;

    private TinyClipVocabulary() {
    }

    /** The vocabulary size of the files {@link #write} produces. */
    public static int size() {
        return 512 + learnMerges().size() + 2;
    }

    /**
     * Writes {@code vocab.json}, {@code merges.txt}, {@code tokenizer_config.json} and
     * {@code special_tokens_map.json} into {@code folder}.
     *
     * @param padToken {@code <|endoftext|>} as SDXL's first tokenizer, or {@code !} as its second
     */
    public static void write(Path folder, String padToken) throws IOException {
        Files.createDirectories(folder);
        List<String[]> merges = learnMerges();
        Map<String, Integer> vocab = new LinkedHashMap<>();
        List<String> symbols = byteSymbolsInClipOrder();
        symbols.forEach(s -> vocab.put(s, vocab.size()));
        symbols.forEach(s -> vocab.put(s + BytePairEncoder.END_OF_WORD, vocab.size()));
        for (String[] m : merges) {
            vocab.putIfAbsent(m[0] + m[1], vocab.size());
        }
        vocab.put("<|startoftext|>", vocab.size());
        vocab.put("<|endoftext|>", vocab.size());
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        json.writeValue(folder.resolve(TokenizerFiles.VOCAB).toFile(), vocab);
        StringBuilder text = new StringBuilder("#version: 0.2\n");
        merges.forEach(m -> text.append(m[0]).append(' ').append(m[1]).append('\n'));
        Files.writeString(folder.resolve(TokenizerFiles.MERGES), text, StandardCharsets.UTF_8);
        Map<String, Object> special = new LinkedHashMap<>();
        special.put("bos_token", "<|startoftext|>");
        special.put("eos_token", "<|endoftext|>");
        special.put("unk_token", "<|endoftext|>");
        special.put("pad_token", padToken);
        json.writeValue(folder.resolve(TokenizerFiles.SPECIAL_TOKENS_MAP).toFile(), special);
        Map<String, Object> config = new LinkedHashMap<>(special);
        config.put("model_max_length", 77);
        config.put("do_lower_case", true);
        config.put("tokenizer_class", "CLIPTokenizer");
        json.writeValue(folder.resolve(TokenizerFiles.CONFIG).toFile(), config);
    }

    /** CLIP's vocabulary order of the byte symbols: printable bytes first, then the remapped ones. */
    private static List<String> byteSymbolsInClipOrder() {
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            if (isPrintable(b)) {
                order.add(b);
            }
        }
        for (int b = 0; b < 256; b++) {
            if (!isPrintable(b)) {
                order.add(b);
            }
        }
        List<String> out = new ArrayList<>();
        order.forEach(b -> out.add(String.valueOf(BytePairEncoder.byteSymbol(b))));
        return out;
    }

    private static boolean isPrintable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }

    /** Greedy BPE training on the corpus words: the most frequent adjacent pair first, ties by text order. */
    private static List<String[]> learnMerges() {
        List<List<String>> words = new ArrayList<>();
        for (String w : CORPUS.toLowerCase(Locale.ROOT).split(" ")) {
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < w.length(); i++) {
                parts.add(String.valueOf(w.charAt(i)) + (i == w.length() - 1 ? BytePairEncoder.END_OF_WORD : ""));
            }
            words.add(parts);
        }
        List<String[]> merges = new ArrayList<>();
        while (merges.size() < MERGES) {
            Map<String, Integer> counts = new HashMap<>();
            for (List<String> w : words) {
                for (int i = 0; i + 1 < w.size(); i++) {
                    counts.merge(w.get(i) + " " + w.get(i + 1), 1, Integer::sum);
                }
            }
            String best = counts.entrySet().stream()
                    .min((a, b) -> a.getValue().equals(b.getValue()) ? a.getKey().compareTo(b.getKey())
                            : b.getValue() - a.getValue())
                    .map(Map.Entry::getKey).orElse(null);
            if (best == null) {
                break;
            }
            String[] pair = best.split(" ");
            merges.add(pair);
            for (List<String> w : words) {
                for (int i = 0; i + 1 < w.size(); i++) {
                    if (w.get(i).equals(pair[0]) && w.get(i + 1).equals(pair[1])) {
                        w.set(i, pair[0] + pair[1]);
                        w.remove(i + 1);
                    }
                }
            }
        }
        return merges;
    }
}
