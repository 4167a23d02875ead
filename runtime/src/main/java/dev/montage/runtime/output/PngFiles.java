package dev.montage.runtime.output;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import org.w3c.dom.NodeList;

/**
 * PNG files that carry the parameters of the generation that made them, as {@code iTXt} text chunks
 * (UTF-8, so prompts in any language survive), written atomically.
 */
public final class PngFiles {
    private static final String FORMAT = "javax_imageio_png_1.0";

    private PngFiles() {
    }

    /** The PNG bytes of an image with its parameters as text chunks (key = parameter name). */
    public static byte[] encode(BufferedImage image, Map<String, String> parameters) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        try {
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(image),
                    param);
            IIOMetadataNode text = new IIOMetadataNode("iTXt");
            for (Map.Entry<String, String> e : parameters.entrySet()) {
                IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
                entry.setAttribute("keyword", keyword(e.getKey()));
                entry.setAttribute("compressionFlag", "FALSE");
                entry.setAttribute("compressionMethod", "0");
                entry.setAttribute("languageTag", "");
                entry.setAttribute("translatedKeyword", "");
                entry.setAttribute("text", e.getValue());
                text.appendChild(entry);
            }
            IIOMetadataNode root = new IIOMetadataNode(FORMAT);
            root.appendChild(text);
            try {
                metadata.mergeTree(FORMAT, root);
            } catch (IIOInvalidTreeException e) {
                throw new IOException("cannot embed the parameters in the PNG: " + e.getMessage(), e);
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
                writer.setOutput(out);
                writer.write(null, new IIOImage(image, null, metadata), param);
            }
            return bytes.toByteArray();
        } finally {
            writer.dispose();
        }
    }

    /**
     * Writes the PNG through a temporary file in the same folder and renames it into place, so readers never
     * see a partial file; a file of that name is replaced.
     */
    public static void write(Path file, BufferedImage image, Map<String, String> parameters) throws IOException {
        byte[] bytes = encode(image, parameters);
        Files.createDirectories(file.toAbsolutePath().getParent());
        AtomicFiles.write(file, bytes);
    }

    /**
     * Writes the PNG as {@link #write} does, but never over an existing file: under the next number of the folder,
     * {@code 00012-SUFFIX} ({@link AtomicFiles#writeNumbered}).
     *
     * @return the file written
     */
    public static Path writeNumbered(Path folder, String suffix, BufferedImage image, Map<String, String> parameters)
            throws IOException {
        return AtomicFiles.writeNumbered(folder, suffix, encode(image, parameters));
    }

    /** The text chunks of a PNG (tEXt, zTXt and iTXt), in file order. */
    public static Map<String, String> readParameters(InputStream png) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(png)) {
            ImageReader reader = ImageIO.getImageReadersByFormatName("png").next();
            try {
                reader.setInput(in);
                IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree(FORMAT);
                for (String chunk : new String[] {"tEXtEntry", "zTXtEntry", "iTXtEntry"}) {
                    NodeList entries = root.getElementsByTagName(chunk);
                    for (int i = 0; i < entries.getLength(); i++) {
                        IIOMetadataNode n = (IIOMetadataNode) entries.item(i);
                        String value = n.hasAttribute("text") ? n.getAttribute("text") : n.getAttribute("value");
                        out.put(n.getAttribute("keyword"), value);
                    }
                }
            } finally {
                reader.dispose();
            }
        }
        return out;
    }

    /** PNG keywords are 1-79 Latin-1 characters without leading, trailing or double spaces. */
    private static String keyword(String key) {
        String k = key.replaceAll("[^\\x20-\\x7E]", "_").trim().replaceAll(" {2,}", " ");
        if (k.isEmpty()) {
            throw new IllegalArgumentException("parameter name '" + key + "' has no usable PNG keyword characters");
        }
        return k.length() > 79 ? k.substring(0, 79) : k;
    }
}
