package dev.montage.dist;

import dev.montage.api.SeedResize;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * The flags of a variation (A1111's variation seed) and of a seed's noise drawn at another size (its "Seed resize
 * from") on {@code generate} and {@code submit}.
 */
final class VariationOptions {
    @Option(names = "--variation-seed", description = "Vary the starting noise towards this seed's (A1111's "
            + "variation seed); see --variation-strength.")
    Long seed;

    @Option(names = "--variation-strength", description = "How far towards the --variation-seed's noise, in [0, 1]: "
            + "small for a picture close to --seed's.")
    Double strength;

    @Option(names = "--seed-resize-from", paramLabel = "WxH", description = "Draw the seed's starting noise at this "
            + "size and set it in the middle of the image's (A1111's Seed resize from): much the same picture as the "
            + "seed gives at that size.")
    String resizeFrom;

    /**
     * The size of {@code --seed-resize-from}, else the one {@code recorded} records (null for no record); empty for
     * neither.
     *
     * @throws IllegalArgumentException naming the flag when its value is no WxH size of multiples of 8
     */
    Optional<SeedResize> resize(RecordedRequest recorded) {
        if (resizeFrom == null) {
            return recorded == null ? Optional.empty() : recorded.seedResize();
        }
        String[] wh = resizeFrom.toLowerCase(Locale.ROOT).split("x");
        try {
            return Optional.of(new SeedResize(Integer.parseInt(wh[0].strip()), Integer.parseInt(wh[1].strip())));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--seed-resize-from '" + resizeFrom + "': expected WxH, both positive "
                    + "multiples of 8, e.g. 1024x1024", e);
        }
    }
}
