/**
 * A scribble control image from a drawing. {@code @BuiltFor} records the API line this plugin was compiled against,
 * so a Montage of another line refuses it by name instead of failing mid-generation.
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package com.example.montage.threshold;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
