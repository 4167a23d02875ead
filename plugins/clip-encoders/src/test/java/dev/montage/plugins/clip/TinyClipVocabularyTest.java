package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TinyClipVocabularyTest {
    @TempDir
    Path dir;

    @Test
    void writesAWorkingTokenizerOfItsOwn() throws Exception {
        TinyClipVocabulary.write(dir.resolve("t1"), "<|endoftext|>");
        TinyClipVocabulary.write(dir.resolve("t2"), "!");
        ClipTokenizer t1 = ClipTokenizer.load(dir.resolve("t1"));
        ClipTokenizer t2 = ClipTokenizer.load(dir.resolve("t2"));
        int size = TinyClipVocabulary.size();
        assertEquals(size - 2, t1.bosId());
        assertEquals(size - 1, t1.eosId());
        assertEquals(t1.eosId(), t1.padId());
        assertEquals(0, t2.padId(), "the second tokenizer pads with '!', id 0, as SDXL's does");
        // common prompt words are whole tokens; anything else falls back to bytes
        assertEquals(java.util.List.of("dog</w>", "on</w>", "the</w>", "beach</w>"), t1.tokens("Dog on the beach"));
        assertTrue(t1.tokens("日本").size() >= 2);
        int[] ids = t1.encode("a dog!!");
        assertEquals(77, ids.length);
        for (int id : ids) {
            assertTrue(id >= 0 && id < size);
        }
    }
}
