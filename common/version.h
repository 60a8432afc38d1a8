/* The version every slic binary reports with --version. */
#ifndef SLIC_VERSION_H
#define SLIC_VERSION_H

#define SLIC_VERSION "0.1.0"

#endif
