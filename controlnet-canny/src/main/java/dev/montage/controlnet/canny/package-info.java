/** Canny condition plugin: OpenCV-exact edge detector and ControlNet binding. */
package dev.montage.controlnet.canny;
