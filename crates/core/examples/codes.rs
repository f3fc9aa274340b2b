//! Prints the error-code table as Markdown (pasted into PROTOCOL.md; a test keeps them in sync).
fn main() {
    print!("{}", im_revoke_core::error::code_table_markdown());
}
