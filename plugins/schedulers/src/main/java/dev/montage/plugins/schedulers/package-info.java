/** Euler discrete, DDIM and DPM-Solver++ schedulers. */
package dev.montage.plugins.schedulers;
