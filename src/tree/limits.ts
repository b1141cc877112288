/**
 * Hard bounds of the tree layer, the same for the library, study files and the command line (the
 * options model checks them: src/tree/options.ts).
 */

/**
 * Most nodes a tree may have (option maxSize). Random trees are built node by node and abandoned
 * beyond it, so no depth setting can make initialisation or subtree mutation build a tree of 2^depth
 * nodes; 65,536 nodes is far beyond any formula worth reading and keeps one tree under 600 KB.
 */
export const MAX_TREE_SIZE = 65_536;

/**
 * Deepest tree (option maxDepth; a single node has depth 0). Printing, simplifying and the tree edit
 * distance recurse once per level; 1,000 levels stay well inside the call stack of the main thread
 * and of worker threads (test/tree-limits.test.ts).
 */
export const MAX_TREE_DEPTH = 1_000;
