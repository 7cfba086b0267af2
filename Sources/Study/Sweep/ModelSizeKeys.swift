/// The config keys that change a model's shape, and so its non-embedding parameter count: a
/// grid setting of any of them is the *size* of a point in the scaling view, the rest its *line*.
enum ModelSizeKeys {
    static let keys: Set<String> = [
        "model.d_model", "model.n_layer", "model.n_head", "model.n_kv_head",
        "model.head_dim", "model.d_ff",
    ]

    /// Whether a grid label sets any shape key (`size=d64l2`, `d_model=64`).
    static func changesSize(_ label: GridAxis.Label) -> Bool { !keys.isDisjoint(with: label.keys) }
}
