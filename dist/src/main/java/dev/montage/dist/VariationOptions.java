package dev.montage.dist;

import picocli.CommandLine.Option;

/** The flags of a variation (A1111's variation seed) on {@code generate} and {@code submit}. */
final class VariationOptions {
    @Option(names = "--variation-seed", description = "Vary the starting noise towards this seed's (A1111's "
            + "variation seed); see --variation-strength.")
    Long seed;

    @Option(names = "--variation-strength", description = "How far towards the --variation-seed's noise, in [0, 1]: "
            + "small for a picture close to --seed's.")
    Double strength;
}
