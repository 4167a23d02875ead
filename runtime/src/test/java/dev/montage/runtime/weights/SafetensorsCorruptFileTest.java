package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed file is refused at open with a message naming the file and, where relevant, the tensor. */
class SafetensorsCorruptFileTest {
    private static final String TWO_TENSORS = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}";

    @TempDir
    Path dir;

    @Test
    void wellFormedBaselineOpens() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("ok.safetensors"), TWO_TENSORS, new byte[12]);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(2, reader.names().size());
        }
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {1, 2, 3});
        assertRefused(file, null, "too short");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("absurd.safetensors"), 1L << 60, "{}".getBytes(), new byte[0]);
        assertRefused(file, null, "header length 1152921504606846976 is absurd");
        Path negative = RawSafetensors.write(dir.resolve("neg.safetensors"), -1L, "{}".getBytes(), new byte[0]);
        assertRefused(negative, null, "header length 18446744073709551615 is absurd");
    }

    @Test
    void headerLongerThanTheFile() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("trunc.safetensors"), 4096, TWO_TENSORS.getBytes(), new byte[12]);
        assertRefused(file, null, "header length 4096 exceeds");
    }

    @Test
    void headerTooSmall() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("tiny.safetensors"), 1, "{".getBytes(), new byte[0]);
        assertRefused(file, null, "too small");
    }

    @Test
    void truncatedFile() throws IOException {
        Path full = RawSafetensors.write(dir.resolve("full.safetensors"), TWO_TENSORS, new byte[12]);
        byte[] bytes = Files.readAllBytes(full);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(bytes, 8 + TWO_TENSORS.length() / 2));
        assertRefused(cut, null, "exceeds");
    }

    @Test
    void truncatedData() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("data.safetensors"), TWO_TENSORS, new byte[10]);
        assertRefused(file, "b", "end beyond the data section of 10 bytes");
    }

    @Test
    void badJson() throws IOException {
        assertRefused(RawSafetensors.write(dir.resolve("json.safetensors"), "{\"a\":", new byte[0]),
                null, "header is not valid JSON");
        assertRefused(RawSafetensors.write(dir.resolve("array.safetensors"), "[1, 2]  ", new byte[0]),
                null, "not a JSON object");
        assertRefused(RawSafetensors.write(dir.resolve("trail.safetensors"), "{} {}", new byte[0]),
                null, "not valid JSON");
        String twice = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
        assertRefused(RawSafetensors.write(dir.resolve("dup.safetensors"), twice, new byte[2]), null, "'a'");
    }

    @Test
    void unknownDtype() throws IOException {
        String header = "{\"q\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        assertRefused(RawSafetensors.write(dir.resolve("dtype.safetensors"), header, new byte[2]),
                "q", "unknown dtype 'Q4_K'");
    }

    @Test
    void badShapes() throws IOException {
        for (String shape : new String[] {"[-1]", "[2.0]", "\"2\"", "[[2]]", "{}", "[99999999999999999999]"}) {
            String header = "{\"s\":{\"dtype\":\"U8\",\"shape\":" + shape + ",\"data_offsets\":[0,2]}}";
            assertRefused(RawSafetensors.write(dir.resolve("shape.safetensors"), header, new byte[2]),
                    "s", "shape must be a list of non-negative integers");
        }
        String overflow = "{\"s\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,2]}}";
        assertRefused(RawSafetensors.write(dir.resolve("overflow.safetensors"), overflow, new byte[2]), "s", "overflow");
    }

    @Test
    void badOffsets() throws IOException {
        for (String offsets : new String[] {"[0]", "[0,1,2]", "[-1,1]", "\"0,2\"", "[0,2.5]"}) {
            String header = "{\"o\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":" + offsets + "}}";
            assertRefused(RawSafetensors.write(dir.resolve("off.safetensors"), header, new byte[2]),
                    "o", "data_offsets must be two non-negative integers");
        }
        String reversed = "{\"o\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,1]}}";
        assertRefused(RawSafetensors.write(dir.resolve("rev.safetensors"), reversed, new byte[2]), "o", "begin after");
    }

    @Test
    void missingOrExtraFields() throws IOException {
        String missing = "{\"m\":{\"dtype\":\"U8\",\"data_offsets\":[0,2]}}";
        assertRefused(RawSafetensors.write(dir.resolve("miss.safetensors"), missing, new byte[2]), "m", "shape");
        String extra = "{\"m\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"crc\":1}}";
        assertRefused(RawSafetensors.write(dir.resolve("extra.safetensors"), extra, new byte[2]), "m", "'crc'");
        String notObject = "{\"m\":[1,2]}";
        assertRefused(RawSafetensors.write(dir.resolve("entry.safetensors"), notObject, new byte[0]), "m", "not a JSON object");
    }

    @Test
    void overlappingOffsets() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        String message = assertRefused(RawSafetensors.write(dir.resolve("overlap.safetensors"), header, new byte[12]),
                "b", "overlap tensor 'a'");
        assertTrue(message.contains("[4, 12)") && message.contains("[0, 8)"), message);
    }

    @Test
    void gapsAndTrailingBytes() throws IOException {
        String gap = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}";
        assertRefused(RawSafetensors.write(dir.resolve("gap.safetensors"), gap, new byte[6]), "b", "gap [2, 4)");
        assertRefused(RawSafetensors.write(dir.resolve("tail.safetensors"), TWO_TENSORS, new byte[20]),
                null, "data section has 20 bytes but the tensors cover only 12");
    }

    @Test
    void sizeMismatch() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
        assertRefused(RawSafetensors.write(dir.resolve("size.safetensors"), header, new byte[8]),
                "w", "hold 8 bytes, but dtype f32 and shape [3] need 12");
    }

    @Test
    void badMetadata() throws IOException {
        assertRefused(RawSafetensors.write(dir.resolve("meta.safetensors"), "{\"__metadata__\":{\"n\":1}}", new byte[0]),
                null, "__metadata__ value of 'n' is not a string");
        assertRefused(RawSafetensors.write(dir.resolve("meta2.safetensors"), "{\"__metadata__\":[]}", new byte[0]),
                null, "__metadata__ is not a JSON object");
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("ok.safetensors"), TWO_TENSORS, new byte[12]);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> reader.tensor("zzz"));
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("'zzz'"), e.getMessage());
            assertThrows(WeightFormatException.class, () -> reader.info("zzz"));
        }
    }

    @Test
    void closedReaderRefusesLookupsButKeepsReturnedTensors() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("ok.safetensors"), TWO_TENSORS, new byte[] {0, 0, (byte) 0x80,
            0x3f, 0, 0, 0, 0x40, 1, 2, 3, 4});
        SafetensorsReader reader = SafetensorsReader.open(file);
        RawTensor a = reader.tensor("a");
        reader.close();
        assertThrows(IllegalStateException.class, () -> reader.tensor("b"));
        assertEquals(2f, a.toFloatArray()[1]);
    }

    /** Asserts the file is refused with a message naming it, the tensor (if any) and the problem. */
    private static String assertRefused(Path file, String tensor, String problem) {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.open(file).close());
        String message = e.getMessage();
        assertTrue(message.contains(file.toString()), () -> "no file name in: " + message);
        if (tensor != null) {
            assertTrue(message.contains("tensor '" + tensor + "'"), () -> "no tensor name in: " + message);
        }
        assertTrue(message.contains(problem), () -> "expected '" + problem + "' in: " + message);
        return message;
    }

    @Test
    void aHeaderJacksonCannotDecodeAsTextIsRefused() throws IOException {
        // four leading bytes that make Jackson guess UTF-32, then no valid UTF-32 character
        Path file = RawSafetensors.write(dir.resolve("utf32.safetensors"), 8, new byte[] {0, 0, 0, '{', 'm', 'd', 't',
            'a'}, new byte[0]);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.open(file));
        assertTrue(e.getMessage().contains(file + ": header is not UTF-8 JSON"), e.getMessage());
    }
}
