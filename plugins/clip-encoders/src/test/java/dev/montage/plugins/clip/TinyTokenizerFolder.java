package dev.montage.plugins.clip;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A tokenizer folder with a hand-made byte-level vocabulary of a few symbols, written by the tests themselves. */
final class TinyTokenizerFolder {

    static final String VOCAB = """
            {"!": 0, "a": 1, "b": 2, "c": 3, "!</w>": 4, "a</w>": 5, "b</w>": 6, "c</w>": 7, "ab": 8, "abc</w>": 9,
             "<|startoftext|>": 10, "<|endoftext|>": 11, "-</w>": 12, ",</w>": 13, "-": 14, "d": 15, "d</w>": 16}
            """;

    /** "a b" merges only a non-final {@code b}; "ab c</w>" then completes the word {@code abc}. */
    static final String MERGES = "#version: 0.2\na b\nab c</w>\n";

    static final int BOS = 10;
    static final int EOS = 11;

    private TinyTokenizerFolder() {
    }

    /** Writes vocab.json and merges.txt, plus a tokenizer_config.json when {@code config} is not null. */
    static Path write(Path folder, String config) throws IOException {
        Files.writeString(folder.resolve("vocab.json"), VOCAB);
        Files.writeString(folder.resolve("merges.txt"), MERGES);
        if (config != null) {
            Files.writeString(folder.resolve("tokenizer_config.json"), config);
        }
        return folder;
    }

    static ClipTokenizer load(Path folder, String config) throws IOException {
        return ClipTokenizer.load(write(folder, config));
    }
}
