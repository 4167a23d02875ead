/** Canny condition plugin: OpenCV-exact edge detector and ControlNet binding. */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.controlnet.canny;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;
