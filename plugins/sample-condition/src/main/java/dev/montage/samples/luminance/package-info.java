/**
 * A sample third-party Montage plugin, written against {@code montage-api} alone: a luminance condition preprocessor
 * ({@code luminance}) and an Euler sampler on an exponential sigma schedule ({@code sample-euler-exponential}).
 * Both factories are listed in {@code META-INF/services/dev.montage.api.spi.ComponentFactory}, which is all Montage
 * needs whether the jar is on the classpath, installed as an OSGi bundle or packed as a PF4J plugin.
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.samples.luminance;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
