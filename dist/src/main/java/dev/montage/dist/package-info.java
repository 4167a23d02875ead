/** The montage command, the headless server, shipped profiles and the assembly. */
package dev.montage.dist;
