package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WebP pictures are read as PNG and JPEG are, their size checked from the header before any pixel is decoded. */
class WebpInputTest {
    /** RIFF header (12), chunk header (8), signature byte (1). */
    private static final int VP8L_SIZES = 21;

    /** Red left half, blue right half, a white top-left pixel. */
    private static int color(int x, int y) {
        if (x == 0 && y == 0) {
            return 0xffffffff;
        }
        return x < 4 ? 0xffff0000 : 0xff0000ff;
    }

    @Test
    void aLosslessWebpDecodesToItsPixels() {
        byte[] webp = Pictures.webp(8, 6, WebpInputTest::color);
        assertTrue(webp.length < 100, webp.length + " bytes");
        BufferedImage image = ImageInput.decode(webp, "image", new ImageInput.PixelBudget(48, 48));
        assertEquals(8, image.getWidth());
        assertEquals(6, image.getHeight());
        for (int y = 0; y < 6; y++) {
            for (int x = 0; x < 8; x++) {
                assertEquals(color(x, y), image.getRGB(x, y), "pixel " + x + "," + y);
            }
        }
    }

    @Test
    void theServerTakesWebpUploadsAndInlinePictures(@TempDir Path out) throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String uploaded = s.client.upload(Pictures.webp(32, 32, WebpInputTest::color), "subject.webp");
            Map<String, Object> request = new LinkedHashMap<>(Map.of("prompt", "a dog and a ball", "width", 64,
                    "height", 64, "steps", 1, "seed", 3));
            request.put("subjects", List.of(Map.of("uploadId", uploaded, "phrase", "dog", "box", List.of(0, 0, 0.5, 1)),
                    Map.of("image", Pictures.base64(Pictures.webp(16, 16, WebpInputTest::color)), "phrase", "ball",
                            "box", List.of(0.5, 0, 1, 1))));
            HttpResponse<byte[]> accepted = Http.postJson(s.server, Http.JSON.writeValueAsString(request));
            assertEquals(202, accepted.statusCode(), Http.text(accepted));
            assertEquals("finished", s.client.events((String) Http.json(accepted).get("id"), e -> { }).type());
        }
    }

    @Test
    void aWebpClaimingTooManyPixelsIsRefusedFromItsHeader() {
        // an 8x6 picture whose header claims 16384 x 16384: the 14-bit sizes follow the VP8L signature byte
        byte[] claim = Pictures.webp(8, 6, WebpInputTest::color);
        int sizes = (16384 - 1) | (16384 - 1) << 14;
        for (int i = 0; i < 4; i++) {
            claim[VP8L_SIZES + i] = (byte) (i < 3 ? sizes >>> (8 * i) : (claim[VP8L_SIZES + i] & 0xf0) | sizes >>> 24);
        }
        ApiException e = assertThrows(ApiException.class,
                () -> ImageInput.decode(claim, "subjects[0].image", new ImageInput.PixelBudget(1 << 20, 1 << 22)));
        assertEquals(413, e.status());
        assertEquals("is 16384x16384 = 268435456 pixels, more than the limit of 1048576", e.errors().get(0).message());
    }
}
