package dev.montage.api.spi;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/**
 * "Did you mean": the closest known name to a misspelt one, so that the host and plugins phrase lookups of names
 * (keys, ids, options, types) alike.
 */
public final class Suggestions {
    private Suggestions() {
    }

    /** The candidate nearest to {@code given} by edit distance, if it is near enough to be a likely typo. */
    public static Optional<String> closest(String given, Collection<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(given.toLowerCase(Locale.ROOT), c.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
        // a third of the name, at least 2 edits: catches typos and swapped letters without absurd guesses
        return best != null && bestDistance <= Math.max(2, given.length() / 3) ? Optional.of(best) : Optional.empty();
    }

    /** " did you mean X?" or nothing. */
    public static String didYouMean(String given, Collection<String> candidates) {
        return closest(given, candidates).map(c -> "; did you mean " + c + "?").orElse("");
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
    private static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
