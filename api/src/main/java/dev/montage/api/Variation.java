package dev.montage.api;

/**
 * A variation of a generation, as AUTOMATIC1111's variation seed makes one: the starting noise of image b is A1111's
 * spherical interpolation, by {@code strength}, from the noise of the request's seed + b to that of {@code seed} + b.
 * A small strength gives a picture close to the request seed's, 1 one from the variation seed's starting noise; the
 * noise a sampler adds at its steps stays the request seed's.
 *
 * @param seed     the variation seed (A1111's "Variation seed")
 * @param strength how far towards the variation seed's noise, in [0, 1] (A1111's "Variation seed strength")
 */
public record Variation(long seed, double strength) {

    /**
     * @throws IllegalArgumentException naming {@code variation.strength} when it is outside [0, 1]
     */
    public Variation {
        if (!(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("variation.strength must be in [0, 1], got " + strength);
        }
    }
}
