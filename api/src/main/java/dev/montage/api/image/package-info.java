/**
 * Pictures as Pillow handles them, reimplemented byte for byte: {@code convert("RGB")} ({@link
 * dev.montage.api.image.RgbImage#of}) and {@code Image.resize} ({@link dev.montage.api.image.PilResampler}), so that
 * the host and plugins prepare images exactly as the Python reference does (CLIP preprocessing, ControlNet
 * conditioning images).
 */
package dev.montage.api.image;
