package dev.montage.dist.server;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** Random ids for generations and uploads: 128 bits as 32 hex digits, safe as file names. */
final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern FORMAT = Pattern.compile("[0-9a-f]{32}");

    private Ids() {
    }

    static String next() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** Whether a client-given id has the form of one we hand out (checked before it becomes part of a path). */
    static boolean wellFormed(String id) {
        return id != null && FORMAT.matcher(id).matches();
    }
}
