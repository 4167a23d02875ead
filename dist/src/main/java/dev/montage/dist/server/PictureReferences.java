package dev.montage.dist.server;

import java.io.IOException;
import java.util.Optional;

/**
 * Pictures a request names instead of carrying them as base64: the server's uploads ({@code uploadId}), the files
 * beside a batch manifest ({@code file}).
 */
public interface PictureReferences {
    /**
     * A picture found by its name.
     *
     * @param bytes    the picture as stored
     * @param recorded how a record gives the picture again, under {@link #field()}
     */
    record Found(byte[] bytes, String recorded) {
    }

    /** The field of a subject or control that names a picture this way. */
    String field();

    /** The picture a name stands for, or empty when it names none. */
    Optional<Found> find(String name) throws IOException;

    /** Why a name that {@link #find} does not find names no picture, for the field's error. */
    String unknown(String name);
}
